"""The bubble's core under interruption, GC, outsiders and I/O; exact time.

Each test here was a defect of the clock once (issue 9); each reproduces it.
"""

import _thread
import calendar
import concurrent.futures
import datetime
import gc
import queue
import random
import signal
import sys
import threading
import time
import urllib.request

import fixtures
from oslo_utils import timeutils
import testtools

import nova_fixtures
from nova_fixtures import _timeswap
from tests.unit.nova_fixtures.waits import wait_until_queued

NS = 1_000_000_000
# NOTE(tests): real primitives, made before any clock: outside the bubble.
REAL_LOCK = _thread.allocate_lock


class Interrupted(Exception):
    """Raised by a signal handler, as OS_TEST_TIMEOUT's is."""


class FakeUptime(fixtures.Fixture):
    """The host's monotonic clock reads ``seconds`` when a clock starts."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def _setUp(self):
        real = _timeswap._REAL_NS
        offset = round(self.seconds * NS) - real[0]()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_fixtures._timeswap._REAL_NS',
            (lambda: real[0]() + offset, real[1])))


def run_schedule(seed, clock_now):
    """Threads sleeping and waiting in a seeded random pattern.

    :returns: (trace of (thread, virtual ns) in wake order per thread,
        exact-reading failures).
    """
    rng = random.Random(seed)
    steps = {name: [rng.choice([1, 2, 0.5, 0.25, 300, 0.125, 60, 0.1,
                                0.3, 7.75])
                    for _ in range(rng.randint(3, 8))]
             for name in ('a', 'b', 'c', 'd')}
    trace = {name: [] for name in steps}
    inexact = []

    def worker(name):
        start = time.monotonic()
        begun = clock_now()
        total = 0
        for i, seconds in enumerate(steps[name]):
            kind = i % 3
            if kind == 0:
                time.sleep(seconds)  # allow-sleep: virtual time
            elif kind == 1:
                threading.Event().wait(seconds)
            else:
                cond = threading.Condition()
                with cond:
                    cond.wait_for(lambda: False, seconds)
            total += seconds
            trace[name].append(time.monotonic_ns())
            if any(s in (0.1, 0.3) for s in steps[name][:i + 1]):
                # NOTE(tests): not binary fractions: no exact float sum.
                continue
            elapsed = time.monotonic() - start
            if elapsed != total or clock_now() - begun != total:
                inexact.append((name, elapsed))

    threads = [threading.Thread(target=worker, args=(n,)) for n in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return trace, inexact


class TestExactTime(testtools.TestCase):
    """Defect 1: float drift made virtual outcomes depend on the uptime."""

    UPTIMES = [2 ** k - 30 for k in (11, 12, 16, 20)] + [54321.5, 731.9]

    def run_at(self, uptime, seed):
        with FakeUptime(uptime):
            with nova_fixtures.ClockFixture() as clock:
                t0 = time.monotonic_ns()
                trace, inexact = run_schedule(seed, clock.now)
                now = clock.now()
        self.assertEqual([], inexact)
        return {k: [t - t0 for t in v] for k, v in trace.items()}, now

    def test_readings_exact_and_outcomes_the_same_at_any_uptime(self):
        for seed in range(12):
            outcomes = [self.run_at(uptime, seed)
                        for uptime in self.UPTIMES]
            for uptime, outcome in zip(self.UPTIMES[1:], outcomes[1:]):
                self.assertEqual(outcomes[0], outcome,
                                 f'seed {seed}, uptime {uptime}')

    def test_300_s_apart_is_exactly_300_just_below_a_power_of_two(self):
        with FakeUptime(2 ** 11 - 30):
            clock = self.useFixture(nova_fixtures.ClockFixture())
            before = time.monotonic()
            time.sleep(300)  # allow-sleep: virtual time
            self.assertEqual(300, time.monotonic() - before)
            time.sleep(0.5)  # allow-sleep: virtual time
            self.assertEqual(300.5, clock.now())
            self.assertEqual(300.5, time.monotonic() - before)


class TestInterruptedWaits(testtools.TestCase):
    """Defect 2: an exception while parked left the thread counted."""

    def setUp(self):
        super().setUp()
        old = signal.signal(signal.SIGUSR1, self.interrupt)
        self.addCleanup(signal.signal, signal.SIGUSR1, old)
        self.clock = self.useFixture(nova_fixtures.ClockFixture())
        self.armed = True

    def interrupt(self, signum, frame):
        if self.armed:
            self.armed = False
            raise Interrupted()

    def interrupt_main_once_parked(self):
        """Interrupt the main thread's next wait; join the result once the
        main thread caught the exception."""
        main = threading.get_ident()
        # NOTE(tests): the interrupter waits on a lock the clock can't see,
        # so it counts as running and time can't end the wait first.
        caught = REAL_LOCK()
        caught.acquire()

        def interrupter():
            self.clock.settle()
            # NOTE(tests): a signal that lands just before the main thread
            # blocks in its raw lock does not interrupt it: send it again
            # until it was caught (the handler raises once).
            signal.pthread_kill(main, signal.SIGUSR1)
            while not caught.acquire(True, 0.01):
                signal.pthread_kill(main, signal.SIGUSR1)

        thread = threading.Thread(target=interrupter)
        thread.start()

        class Joiner:
            def join(self):
                caught.release()
                thread.join()

        return Joiner()

    def assert_no_jump_while_this_thread_runs(self):
        """Before the fix, the interrupted wait still counted this thread
        as blocked: a sleeper's timer fired while it ran."""
        before = self.clock.now()
        sleeper = threading.Thread(target=time.sleep, args=(10,))
        sleeper.start()
        pause = REAL_LOCK()
        pause.acquire()
        pause.acquire(True, 0.05)
        self.assertEqual(before, self.clock.now())
        sleeper.join()
        self.assertEqual(before + 10, self.clock.now())

    def test_interrupted_lock_wait_leaves_no_stale_waiter(self):
        lock = threading.Lock()
        held = threading.Event()
        release = threading.Event()

        def holder():
            with lock:
                held.set()
                release.wait()

        owner = threading.Thread(target=holder)
        owner.start()
        held.wait()
        interrupter = self.interrupt_main_once_parked()
        self.assertRaises(Interrupted, lock.acquire)
        interrupter.join()
        self.assertEqual(0, len(lock.waiters))
        self.assert_no_jump_while_this_thread_runs()
        release.set()
        owner.join()
        self.assertFalse(lock.locked())

    def test_interrupted_sleep_is_not_counted_as_blocked(self):
        interrupter = self.interrupt_main_once_parked()
        self.assertRaises(Interrupted, time.sleep, 100)
        interrupter.join()
        self.assertEqual(0, self.clock.now())
        self.assert_no_jump_while_this_thread_runs()


class TestReentry(testtools.TestCase):
    """Defect 3: a GC callback inside the core blocked its own thread."""

    def test_gc_callbacks_inside_the_core_may_use_the_bubble(self):
        clock = self.useFixture(nova_fixtures.ClockFixture())
        puts = queue.Queue()
        inside = []

        class Garbage:
            def __init__(self):
                self.me = self

            def __del__(self):
                puts.put(None)

        mutex = clock.bubble.mutex
        owned = (mutex._is_owned if hasattr(mutex, '_is_owned')
                 else mutex.locked)

        def note(phase, info):
            # NOTE(tests): a collection that starts while this thread is
            # inside the bubble's critical section.
            if phase == 'start' and owned():
                inside.append(1)

        gc.callbacks.append(note)
        self.addCleanup(gc.callbacks.remove, note)
        threshold = gc.get_threshold()
        self.addCleanup(gc.set_threshold, *threshold)
        made = 0
        lock = threading.Lock()
        event = threading.Event()
        try:
            for i in range(20000):
                # NOTE(tests): move where collections start, so that some
                # start inside the core.
                gc.set_threshold(1 + i % 13)
                Garbage()
                made += 1
                with lock:
                    event.wait(0.001)
                if len(inside) >= 20:
                    break
        finally:
            gc.set_threshold(*threshold)
        gc.collect()
        self.assertGreaterEqual(len(inside), 20)
        self.assertEqual(made, puts.qsize())


def serve(app, clock_fixture=True):
    """Set up a WSGIServiceFixture (under a clock the caller made)."""
    return nova_fixtures.WSGIServiceFixture(app, name='api')


def get(url):
    with nova_fixtures.io_wait():
        with urllib.request.urlopen(url, timeout=300) as response:
            return response.status, response.read()


class TestIOWaits(testtools.TestCase):
    """Defects 4 and 7b: io_wait counted twice, HTTP on the clock."""

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def test_request_with_no_timer_pending_works(self):
        def app(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [b'hello']

        api = self.useFixture(serve(app))
        self.assertEqual((200, b'hello'), get(api.url + '/'))
        self.assertEqual([], self.clock.reports)

    def test_request_takes_no_virtual_time_unless_its_handler_sleeps(self):
        stop = threading.Event()

        def poller():
            while not stop.wait(0.25):
                pass

        def app(environ, start_response):
            if environ['PATH_INFO'] == '/slow':
                time.sleep(5)  # allow-sleep: virtual time
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [environ['PATH_INFO'].encode()]

        api = self.useFixture(serve(app))
        polling = threading.Thread(target=poller)
        polling.start()
        self.addCleanup(polling.join)
        self.addCleanup(stop.set)
        for _ in range(20):
            start = self.clock.now()
            self.assertEqual((200, b'/'), get(api.url + '/'))
            self.assertEqual(start, self.clock.now())
        start = self.clock.now()
        self.assertEqual((200, b'/slow'), get(api.url + '/slow'))
        self.assertEqual(start + 5, self.clock.now())

    def test_lock_wait_inside_io_wait_counts_the_thread_once(self):
        done = threading.Event()
        readings = []
        gate = REAL_LOCK()
        gate.acquire()

        def runner():
            # NOTE(tests): runs (waits on a lock the clock can't see) for
            # 50 ms of real time: no virtual time may pass meanwhile.
            readings.append(time.monotonic())
            gate.acquire(True, 0.05)
            readings.append(time.monotonic())
            done.set()

        def sleeper():
            time.sleep(1)  # allow-sleep: virtual time

        sleeping = threading.Thread(target=sleeper)
        sleeping.start()
        running = threading.Thread(target=runner)
        with nova_fixtures.io_wait():
            running.start()
            done.wait()
        running.join()
        sleeping.join()
        self.assertEqual(readings[0], readings[1])


class TestOutsiders(testtools.TestCase):
    """Defect 5: waits that a thread outside the bubble ends."""

    def setUp(self):
        super().setUp()
        # NOTE(tests): a pool made (and its thread started) before the
        # clock: its thread is outside the bubble.
        self.pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(self.pool.shutdown)
        self.pool.submit(lambda: None).result()

    def submit_slow_work(self):
        """Work for the pool: 50 ms of real time, then set an Event made
        by a test thread, which is returned."""
        done = threading.Event()
        pause = REAL_LOCK()
        pause.acquire()

        def work():
            pause.acquire(True, 0.05)
            done.set()

        self.pool.submit(work)
        return done

    def test_event_set_by_a_pool_made_before_the_clock_stalls_time(self):
        clock = self.useFixture(nova_fixtures.ClockFixture())
        done = self.submit_slow_work()
        self.assertTrue(done.wait(10))
        self.assertEqual(0, clock.now())

    def test_stall_report_names_the_pool(self):
        clock = self.useFixture(nova_fixtures.ClockFixture(
            max_real_stall=0.05))
        stalled = clock.stalled
        done = threading.Event()

        def work():
            stalled.wait(60)
            done.set()

        self.pool.submit(work)
        self.assertTrue(done.wait(10))
        self.assertIn('work submitted to a pool made before the clock '
                      '(ThreadPoolExecutor-', clock.reports[0])

    def test_no_false_deadlock_while_the_pool_works(self):
        deadlocks = self.useFixture(nova_fixtures.DeadlockFixture())
        done = self.submit_slow_work()
        done.wait()
        self.assertEqual([], deadlocks.deadlocks)

    def test_lock_handed_to_an_outsider_stalls_its_waiters(self):
        clock = self.useFixture(nova_fixtures.ClockFixture())
        lock = threading.Lock()
        outsider_has_it = REAL_LOCK()
        outsider_has_it.acquire()
        pause = REAL_LOCK()
        pause.acquire()

        def outsider():
            with lock:
                outsider_has_it.release()
                pause.acquire(True, 0.05)

        lock.acquire()
        self.pool.submit(outsider)
        wait_until_queued(lock, 1)
        got = []
        waiter = threading.Thread(
            target=lambda: got.append(lock.acquire(timeout=10)))
        waiter.start()
        wait_until_queued(lock, 2)
        lock.release()
        outsider_has_it.acquire()
        waiter.join()
        self.assertEqual([True], got)
        self.assertEqual(0, clock.now())
        lock.release()


class TestCleanupOrder(testtools.TestCase):
    """Defect 6: a running thread saw monotonic go back at cleanup."""

    def test_monotonic_never_goes_back_for_a_thread_left_running(self):
        clock = nova_fixtures.ClockFixture()
        clock.setUp()
        go = threading.Event()
        stop = REAL_LOCK()
        stop.acquire()
        readings = []

        def reader():
            go.wait()
            while not stop.acquire(False):
                readings.append(time.monotonic())

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(3600)  # allow-sleep: virtual time
        go.set()
        # NOTE(tests): switch threads often, so the reader reads while the
        # cleanups run; it must never see time go back.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            clock.cleanUp()
        finally:
            sys.setswitchinterval(interval)
        after = len(readings)
        stop.release()
        thread.join()
        self.assertEqual(sorted(readings), readings)
        self.assertGreater(len(readings), after - 1)


class TestWallClock(testtools.TestCase):
    """Defect 7: datetime and time.gmtime() stayed on real time."""

    def test_datetime_and_utcnow_follow_the_virtual_wall_clock(self):
        clock = self.useFixture(nova_fixtures.ClockFixture(
            start_wall=1234567890.0))
        start = (timeutils.utcnow(), datetime.datetime.now(),
                 datetime.datetime.today(),
                 datetime.datetime.now(datetime.timezone.utc))
        self.assertEqual(datetime.datetime(2009, 2, 13, 23, 31, 30),
                         start[0])
        gm = time.gmtime()
        time.sleep(3600)  # allow-sleep: virtual time
        hour = datetime.timedelta(hours=1)
        self.assertEqual([s + hour for s in start],
                         [timeutils.utcnow(), datetime.datetime.now(),
                          datetime.datetime.today(),
                          datetime.datetime.now(datetime.timezone.utc)])
        self.assertEqual(calendar.timegm(gm) + 3600,
                         calendar.timegm(time.gmtime()))
        self.assertEqual(clock.time(), calendar.timegm(time.gmtime()))
        self.assertEqual(time.mktime(time.localtime()), clock.time())


class TestBadSleeps(testtools.TestCase):

    def test_sleep_nan_and_inf_raise_as_the_real_sleep_does(self):
        self.useFixture(nova_fixtures.ClockFixture())
        error = self.assertRaises(ValueError, time.sleep, float('nan'))
        self.assertEqual('Invalid value NaN (not a number)', str(error))
        self.assertRaises(OverflowError, time.sleep, float('inf'))
        error = self.assertRaises(ValueError, time.sleep, -1)
        self.assertEqual('sleep length must be non-negative', str(error))


class TestBadTimeouts(testtools.TestCase):
    """A NaN timeout raises on the clock and on a schedule as it does in
    plain Python (the reliability round of issue 23): ``join`` returned at
    once with the thread alive, a held RLock was taken again, a
    SimpleQueue spun forever."""

    NAN = float('nan')
    MESSAGE = 'Invalid value NaN (not a number)'

    def on_clock_and_schedule(self, body):
        for scheduled in (False, True):
            with nova_fixtures.ClockFixture():
                if scheduled:
                    with nova_fixtures.ScheduleFixture(seed=1):
                        body()
                else:
                    body()

    def test_join_nan_of_a_running_thread_raises(self):
        def body():
            go = threading.Event()
            thread = threading.Thread(target=go.wait)
            thread.start()
            try:
                error = self.assertRaises(ValueError, thread.join, self.NAN)
                self.assertEqual(self.MESSAGE, str(error))
                self.assertTrue(thread.is_alive())
                # NOTE(tests): as in plain Python, a negative timeout is 0.
                self.assertIsNone(thread.join(-1))
                self.assertTrue(thread.is_alive())
            finally:
                go.set()
                thread.join()

        self.on_clock_and_schedule(body)

    def test_join_of_the_current_thread_raises(self):
        def body():
            outcome = []

            def join_self():
                try:
                    threading.current_thread().join(1)
                except RuntimeError as error:
                    outcome.append(str(error))

            thread = threading.Thread(target=join_self)
            thread.start()
            thread.join()
            self.assertEqual(['cannot join current thread'], outcome)

        self.on_clock_and_schedule(body)

    def test_acquire_nan_of_a_held_rlock_raises(self):
        def body():
            lock = threading.RLock()
            with lock:
                error = self.assertRaises(ValueError, lock.acquire,
                                          timeout=self.NAN)
                self.assertEqual(self.MESSAGE, str(error))
                # NOTE(tests): the failed call left the count alone; a
                # re-entry returns True, as the C RLock's does, not 1.
                self.assertIs(True, lock.acquire(timeout=1))
                lock.release()
            self.assertFalse(lock._is_owned())

        self.on_clock_and_schedule(body)

    def test_simple_queue_get_nan_raises(self):
        def body():
            items = queue.SimpleQueue()
            # NOTE(tests): checked before the queue is looked at (with an
            # item in it the pure-Python queue returned it).
            items.put(1)
            error = self.assertRaises(ValueError, items.get,
                                      timeout=self.NAN)
            self.assertEqual(self.MESSAGE, str(error))
            error = self.assertRaises(ValueError, items.get, timeout=-1)
            self.assertEqual("'timeout' must be a non-negative number",
                             str(error))
            # NOTE(tests): a non-blocking get ignores its timeout.
            self.assertEqual(1, items.get(False, self.NAN))
            self.assertTrue(items.empty())

        self.on_clock_and_schedule(body)


class TestLockClass(testtools.TestCase):
    """Python 3.13 made threading.Lock a class; isinstance must work."""

    def test_isinstance_threading_lock_for_locks_made_before_and_during(self):
        before = threading.Lock()
        with nova_fixtures.ClockFixture():
            during = threading.Lock()
            self.assertIsInstance(before, threading.Lock)
            self.assertIsInstance(during, threading.Lock)
            self.assertNotIsInstance(object(), threading.Lock)
