"""Time functions captured before the clock read virtual time under it."""

import functools
import sched
import threading
import time

from futurist import periodics
import testtools

import nova_fixtures
from nova_fixtures import _rebind

# NOTE(tests): references taken at import, before any clock swapped the
# time functions: the ways real code keeps them.
_MONOTONIC = time.monotonic
_PARTIAL = functools.partial(time.monotonic)
_LISTED = [time.time]
_IN_A_TUPLE = {'clocks': (time.monotonic, 'kept')}


def _default(now=time.monotonic):
    return now()


def _keyword_default(*, now=time.time):
    return now()


def _closure():
    read = time.monotonic
    return lambda: read()


_CLOSED = _closure()


class _ClassAttribute:
    now = time.monotonic
    static = staticmethod(time.monotonic)


class _InstanceAttribute:
    def __init__(self):
        self.now = time.monotonic
        self.sleep = time.sleep


_HELD = _InstanceAttribute()


class TestCapturedReferences(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.clock = self.useFixture(nova_fixtures.ClockFixture(
            max_virtual=7200))
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def test_every_kind_of_captured_reference_reads_virtual_time(self):
        self.clock.advance(100)
        readings = {
            'module alias': _MONOTONIC(),
            'default argument': _default(),
            'partial': _PARTIAL(),
            'closure': _CLOSED(),
            'class attribute': _ClassAttribute.now(),
            'class attribute, via an instance': _ClassAttribute().now(),
            'staticmethod': _ClassAttribute.static(),
            'instance attribute': _HELD.now(),
            'tuple in a dict': _IN_A_TUPLE['clocks'][0](),
        }
        self.assertEqual({name: self.t0 + 100 for name in readings},
                         readings)
        self.assertEqual(self.wall0 + 100, _keyword_default())
        self.assertEqual(self.wall0 + 100, _LISTED[0]())
        self.assertEqual('kept', _IN_A_TUPLE['clocks'][1])

    def test_a_captured_sleep_is_virtual(self):
        _HELD.sleep(600)  # allow-sleep: virtual time
        self.assertEqual(600, self.clock.now())

    def test_sched_scheduler_defaults_follow_the_clock(self):
        runs = []
        scheduler = sched.scheduler()
        for delay in (10, 20, 30):
            scheduler.enter(delay, 0, lambda: runs.append(
                time.monotonic() - self.t0))
        scheduler.run()
        self.assertEqual([10, 20, 30], runs)

    def test_futurist_periodic_worker_polls_on_virtual_time(self):
        # NOTE(tests): its now_func=utils.now default was bound when
        # futurist.periodics was imported: it read real time while its
        # waits were virtual, and polled once an hour instead of 13 times.
        runs = []

        @periodics.periodic(300, run_immediately=True)
        def poll():
            runs.append(time.monotonic() - self.t0)

        worker = periodics.PeriodicWorker([(poll, None, None)])
        thread = threading.Thread(target=worker.start, name='periodics')
        thread.start()
        time.sleep(3600 + 150)  # allow-sleep: virtual time
        worker.stop()
        worker.wait()
        thread.join()
        self.assertEqual([300 * i for i in range(13)], runs)


class TestRebind(testtools.TestCase):
    """The mechanism alone, on objects of the test's own."""

    def test_holders_are_swapped_and_kept_ones_are_not(self):
        real, swapped = _returning('real'), _returning('swapped')
        uses = _with_default(real)
        # NOTE(tests): made with type(), not a class statement, so that no
        # closure cell holds ``real`` besides the holders under test.
        owner = type('Owner', (), {'attr': real})
        kept = {'f': real}
        plain = {'f': real, real: 'a key stays'}
        count = _rebind.rebind({id(real): (real, swapped)}, keep=[kept])
        self.assertEqual('swapped', uses())
        self.assertEqual('swapped', owner.attr())
        self.assertEqual('swapped', owner().attr())
        self.assertIs(real, kept['f'])
        self.assertIs(swapped, plain['f'])
        self.assertEqual('a key stays', plain[real])
        # NOTE(tests): the default, the class attribute, the plain dict.
        self.assertEqual(3, count)


def _returning(value):
    return lambda: value


def _with_default(f):
    def uses(f=f):
        return f()
    return uses
