"""The fixtures beyond bus, clock and services, used as a pytest user does.
"""

import threading

import fixtures
import pytest

import nova_fixtures
from nova_fixtures import clock as clock_mod


class Order(fixtures.Fixture):
    """Appends to ``log`` when it is cleaned up, saying what was active."""

    def __init__(self, log, name):
        super().__init__()
        self.log = log
        self.name = name

    def _setUp(self):
        self.addCleanup(self._note)

    def _note(self):
        bubble = clock_mod.active_bubble()
        self.log.append((self.name, bubble is not None and bubble.active))


def test_notifications_captures_the_bus_notifications(bus, notifications):
    notifier = bus.notifier('compute.c1')
    notifier.info({}, 'instance.create.end', {'id': 1})
    notifier.info({}, 'instance.delete.end', {'id': 1})
    [created] = notifications.wait_for('instance.create.end')
    assert ('compute.c1', {'id': 1}) == (created.publisher_id,
                                         created.payload)
    assert isinstance(notifications, nova_fixtures.NotificationFixture)
    notifications.wait_for('instance.delete.end')
    assert ['instance.create.end', 'instance.delete.end'] == \
        [n.event_type for n in notifications.notifications]


LOG = []


@pytest.fixture
def logged():
    """Checks, after the test's environment is cleaned up, in which order
    the fixtures of ``test_use_fixture_...`` were cleaned up."""
    del LOG[:]
    yield LOG
    assert [('second', True), ('first', True)] == LOG


def test_use_fixture_sets_up_and_cleans_up_before_the_clock(
        logged, clock, use_fixture):
    first = use_fixture(Order(logged, 'first'))
    second = use_fixture(Order(logged, 'second'))
    assert ('first', 'second') == (first.name, second.name)
    assert [] == logged


def test_use_fixture_takes_the_librarys_fixtures(use_fixture, bus):
    leaks = use_fixture(nova_fixtures.ThreadLeakFixture(grace=1.0))
    assert 1.0 == leaks.grace
    notes = use_fixture(nova_fixtures.NotificationFixture(
        bus, topics=['alarms']))
    bus.notifier('compute.c1', topics=['alarms']).info({}, 'alarm', {})
    notes.wait_for('alarm')


@pytest.mark.nova_schedule(seed=7, strategy='random')
def test_schedule_marker_makes_the_schedule_on_the_clock(schedule, clock):
    assert (7, 'random') == (schedule.seed, schedule.strategy)
    assert clock.bubble.sched is schedule.sched
    assert clock_mod.active_bubble() is clock.bubble


@pytest.mark.nova_schedule(seed=3)
@pytest.mark.nova_clock(max_virtual=50.0)
def test_schedule_runs_on_the_nova_clock_markers_clock(schedule, clock):
    assert 50.0 == clock.max_virtual
    with pytest.raises(nova_fixtures.ClockError):
        threading.Event().wait(100)


def test_schedule_without_marker_has_seed_zero(schedule):
    assert 0 == schedule.seed
    assert clock_mod.active_bubble().sched is schedule.sched


@pytest.mark.nova_schedule(seed=11)
def test_schedule_marker_alone_runs_threads_on_the_schedule():
    ran = []
    thread = threading.Thread(target=ran.append, args=(1,))
    thread.start()
    thread.join()
    assert [1] == ran
    bubble = clock_mod.active_bubble()
    assert 11 == bubble.sched.seed


def _cycle():
    """Two threads taking two locks in opposite orders; the one whose
    wait closes the cycle gets DeadlockError."""
    a = threading.Lock()
    b = threading.Lock()
    barrier = threading.Barrier(2)
    errors = []

    def take(first, second):
        with first:
            barrier.wait()
            try:
                with second:
                    pass
            except nova_fixtures.DeadlockError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=take, args=pair, name=name)
               for name, pair in (('T1', (a, b)), ('T2', (b, a)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_expect_deadlock_catches_a_cycle_in_threads(expect_deadlock):
    with expect_deadlock() as caught:
        errors = _cycle()
    assert 1 == len(errors)
    assert 'deadlock: a cycle of 2 thread(s)' in caught.report
    assert [caught.report] == caught.reports
    assert isinstance(caught.exception, nova_fixtures.DeadlockError)
    assert clock_mod.active_bubble() is None


def test_expect_deadlock_catches_an_error_the_block_raises(expect_deadlock):
    with expect_deadlock() as caught:
        # NOTE(pytest): made in the block, so the detector instruments it.
        lock = threading.Lock()
        with lock:
            lock.acquire()
    assert isinstance(caught.exception, nova_fixtures.DeadlockError)
    assert str(caught.exception) in caught.report


def test_expect_deadlock_on_the_clock(clock, expect_deadlock):
    with expect_deadlock() as caught:
        _cycle()
    assert 'deadlock' in caught.report
    assert clock_mod.active_bubble() is clock.bubble
    assert not clock.bubble.detect


def test_expect_deadlock_under_the_tests_detector(deadlocks, expect_deadlock):
    with expect_deadlock() as caught:
        _cycle()
    assert 'deadlock' in caught.report
    # NOTE(pytest): expected, so taken off the test's detector, whose
    # cleanup would fail the test otherwise.
    assert ([], []) == (deadlocks.deadlocks, deadlocks.inversions)
    assert deadlocks.bubble.detect


def test_expect_deadlock_refuses_arguments_under_the_tests_detector(
        deadlocks, expect_deadlock):
    with pytest.raises(TypeError) as raised:
        with expect_deadlock(rpc='report'):
            pass
    assert ('expect_deadlock(rpc=...): the test already runs under a '
            'DeadlockFixture, whose arguments hold; give none') == \
        str(raised.value)


def test_expect_deadlock_lets_other_errors_through(expect_deadlock):
    with pytest.raises(KeyError):
        with expect_deadlock():
            raise KeyError('x')
    assert clock_mod.active_bubble() is None
