"""What a clock or a detector leaves behind behaves as the real thing.

A thread still blocked when the fixture closes stays blocked until it is
really woken: never a spurious grant, never True from an unset Event.
"""

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time

import testtools

import nova_fixtures

# NOTE(tests): how long a thread that the library wrongly woke gets to
# show it: a correct library never lets it finish, so a loaded machine can
# only hide the bug, never fail a correct run.
_WRONG_WAKE_WINDOW = 0.5


def _blocked_waiter(event, seen):
    def wait():
        got = event.wait()
        seen.append((got, event.is_set()))
    return wait


class TestUntimedWaitsOutliveTheClock(testtools.TestCase):

    def _left_blocked(self, fixture, make_waiter):
        """Start a waiter under ``fixture``, close it, return the thread."""
        fixture.setUp()
        event = threading.Event()
        seen = []
        thread = threading.Thread(target=make_waiter(event, seen),
                                  name='left-waiting')
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(event.set)
        if isinstance(fixture, nova_fixtures.ClockFixture):
            fixture.settle()
        else:
            nova_fixtures.wait_until(
                lambda: thread.ident in fixture.bubble.parked, timeout=30)
        fixture.cleanUp()
        return thread, event, seen

    def _assert_woken_only_by_set(self, thread, event, seen):
        thread.join(_WRONG_WAKE_WINDOW)
        self.assertEqual([], seen)
        self.assertTrue(thread.is_alive())
        event.set()
        thread.join()
        self.assertEqual([(True, True)], seen)

    def test_event_wait_at_the_clocks_close_is_not_granted(self):
        clock = nova_fixtures.ClockFixture()
        left = self._left_blocked(clock, _blocked_waiter)
        [report] = clock.reports
        self.assertTrue(report.startswith(
            'when the clock stopped, test threads were blocked for good; '
            'they stay blocked until really woken:\n'
            '  "left-waiting" waits at '), report)
        self.assertIn('in wait: got = event.wait()', report)
        self._assert_woken_only_by_set(*left)

    def test_event_wait_at_the_detectors_close_is_not_granted(self):
        self._assert_woken_only_by_set(*self._left_blocked(
            nova_fixtures.DeadlockFixture(unwind_timeout=0.1),
            _blocked_waiter))

    def test_a_condition_left_waiting_wakes_on_a_later_notify(self):
        # NOTE(tests): the wrongly woken waiter used to stay in the
        # Condition's queue; the loop's next real wait queued behind it and
        # the later notify() woke the stale one: a lost wakeup.
        condition = threading.Condition()
        ready = []
        clock = nova_fixtures.ClockFixture()
        clock.setUp()

        def consumer():
            with condition:
                while not ready:
                    condition.wait()

        thread = threading.Thread(target=consumer, name='consumer')
        thread.start()

        def release():
            with condition:
                ready.append('released')
                condition.notify_all()

        self.addCleanup(thread.join)
        self.addCleanup(release)
        clock.settle()
        clock.cleanUp()
        with condition:
            ready.append(1)
            condition.notify()
        thread.join(30)
        self.assertFalse(thread.is_alive())

    def test_timed_wait_at_the_detectors_close_is_not_cut_short(self):
        detector = self.useFixture(nova_fixtures.DeadlockFixture(
            unwind_timeout=0.1))
        event = threading.Event()
        seen = []

        def wait():
            seen.append(event.wait(3600))

        thread = threading.Thread(target=wait, name='timed-waiter')
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(event.set)
        nova_fixtures.wait_until(
            lambda: thread.ident in detector.bubble.parked, timeout=30)
        detector.cleanUp()
        thread.join(_WRONG_WAKE_WINDOW)
        self.assertEqual([], seen)
        event.set()
        thread.join()
        self.assertEqual([True], seen)


_QUEUES_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import threading

    import nova_fixtures

    queues = [multiprocessing.Queue() for _ in range(3)]
    clock = nova_fixtures.ClockFixture()
    clock.setUp()

    def feed():
        for q in queues:
            q.put_nowait('x')

    thread = threading.Thread(target=feed)
    thread.start()
    thread.join()
    print([q.get() for q in queues])
    clock.cleanUp()
    print('closed')
''')


class TestStandardLibraryThreads(testtools.TestCase):

    def test_queues_made_before_a_clock_let_the_process_exit(self):
        # NOTE(tests): their feeder threads start under the clock; at exit
        # multiprocessing joins them after a last notify. 60 s is a hang
        # guard: the process takes well under a second when it works.
        env = dict(os.environ, PYTHONPATH=os.getcwd())
        done = subprocess.run([sys.executable, '-c', _QUEUES_SCRIPT],
                              capture_output=True, text=True, timeout=60,
                              env=env)
        self.assertEqual((0, "['x', 'x', 'x']\nclosed\n"),
                         (done.returncode, done.stdout), done.stderr)


class TestPoolsMadeBeforeTheTest(testtools.TestCase):

    def test_a_pool_made_before_the_clock_works_under_it_and_after(self):
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        leaks = self.useFixture(nova_fixtures.ThreadLeakFixture())
        clock = self.useFixture(nova_fixtures.ClockFixture())
        self.assertEqual(1, pool.submit(int, '1').result())
        # NOTE(tests): its worker, idle in the C SimpleQueue no clock
        # instruments, was a test thread that never blocked: time froze.
        time.sleep(10)  # allow-sleep: virtual time
        self.assertEqual(10, clock.now())
        [worker] = [t for t in threading.enumerate()
                    if t.name.startswith(pool._thread_name_prefix)]
        self.assertFalse(clock.bubble.is_member(worker.ident))
        clock.cleanUp()
        self.assertEqual(2, pool.submit(int, '2').result())
        self.assertEqual([], leaks.leaked())

    def test_a_pool_made_in_the_test_and_left_running_is_a_leak(self):
        leaks = nova_fixtures.ThreadLeakFixture(grace=0.01)
        leaks.setUp()
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        self.assertEqual(1, pool.submit(int, '1').result())
        error = self.assertRaises(nova_fixtures.ThreadLeak, leaks.cleanUp)
        self.assertIn(pool._thread_name_prefix, str(error))

    def test_a_multiprocessing_queues_feeder_is_no_leak(self):
        leaks = self.useFixture(nova_fixtures.ThreadLeakFixture(grace=0.01))
        feeds = multiprocessing.Queue()
        self.addCleanup(feeds.join_thread)
        self.addCleanup(feeds.close)
        feeds.put('x')
        self.assertEqual('x', feeds.get())
        self.assertEqual([], leaks.leaked())
