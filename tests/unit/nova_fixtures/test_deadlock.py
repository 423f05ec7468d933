"""DeadlockFixture on small deliberate deadlocks, reports asserted exactly.
"""

import os
import _thread
import concurrent.futures
import operator
import queue
import sys
import threading
import uuid

import futurist
from oslo_concurrency import lockutils
import testtools

import nova_fixtures
from tests.unit.nova_fixtures.waits import wait_until_queued

# Reports name files below their sys.path entry: the tests run from the
# repository's root.
HERE = os.path.relpath(__file__)


def line_here():
    """The line of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


def nested(barrier, first, second):
    """A thread body: hold ``first``, meet the other thread at ``barrier``,
    then take ``second``. Locks, or lockutils lock names."""
    def hold(lock):
        if isinstance(lock, (str, bytes, tuple)):
            return lockutils.lock(lock)
        return lock

    def body():
        with hold(first):
            barrier.wait()
            with hold(second):
                pass
    return body


class Runner:
    """Runs functions on named threads and keeps what they raised."""

    def __init__(self):
        self.errors = {}
        self.threads = []

    def start(self, name, fn):
        def run():
            try:
                fn()
            except nova_fixtures.DeadlockError as exc:
                self.errors[name] = exc

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()

    def join(self):
        for thread in self.threads:
            thread.join()


class DeadlockTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.fixture = nova_fixtures.DeadlockFixture()
        self.fixture.setUp()
        self.finished = False
        self.addCleanup(self.finish_quietly)

    def finish_quietly(self):
        if not self.finished:
            self.finished = True
            try:
                self.fixture.cleanUp()
            except (nova_fixtures.DeadlockError,
                    nova_fixtures.LockOrderError):
                pass

    def finish(self):
        self.finished = True
        return self.fixture.cleanUp


class TestWaitForCycles(DeadlockTestCase):

    def test_two_lock_cycle_is_reported_like_a_thread_dump(self):
        line_a = line_here()
        lock_a = threading.Lock()
        line_b = line_here()
        lock_b = threading.Lock()
        barrier = threading.Barrier(2)
        sites = {}

        def one():
            sites['one'] = line_here()
            with lock_a:
                barrier.wait()
                with lock_b:
                    pass

        def two():
            sites['two'] = line_here()
            with lock_b:
                barrier.wait()
                with lock_a:
                    pass

        runner = Runner()
        runner.start('T1', one)
        runner.start('T2', two)
        runner.join()
        self.assertEqual(1, len(runner.errors), runner.errors)
        [report] = [str(e) for e in runner.errors.values()]
        self.assertTrue(report.startswith(
            'deadlock: a cycle of 2 thread(s) waiting for each other:\n'),
            report)
        self.assertIn(
            f'  "T1" waits for lock made at {HERE}:{line_b}, held by "T2" '
            f'(acquired at {HERE}:{sites["two"]})', report)
        self.assertIn(
            f'  "T2" waits for lock made at {HERE}:{line_a}, held by "T1" '
            f'(acquired at {HERE}:{sites["one"]})', report)
        self.assertIn(f'    holds lock made at {HERE}:{line_a} (acquired '
                      f'at {HERE}:{sites["one"]})', report)
        self.assertNotIn('/threading.py', report)
        self.assertNotIn('/testtools/', report)
        error = self.assertRaises(nova_fixtures.DeadlockError, self.finish())
        self.assertIn(report, str(error))

    def test_three_thread_cycle(self):
        locks = [threading.Lock() for _ in range(3)]
        barrier = threading.Barrier(3)

        def take(i):
            def body():
                with locks[i]:
                    barrier.wait()
                    with locks[(i + 1) % 3]:
                        pass
            return body

        runner = Runner()
        for i in range(3):
            runner.start(f'T{i}', take(i))
        runner.join()
        [report] = [str(e) for e in runner.errors.values()]
        self.assertTrue(report.startswith(
            'deadlock: a cycle of 3 thread(s) waiting for each other:\n'),
            report)
        for i in range(3):
            self.assertIn(f'  "T{i}" waits for lock made at ', report)
            self.assertIn(f', held by "T{(i + 1) % 3}" (acquired at ',
                          report)
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def crossed_cycle(self, a, b):
        """T1 holds ``a`` and takes ``b``, T2 the other way round: the
        one report of the cycle."""
        barrier = threading.Barrier(2)
        runner = Runner()
        runner.start('T1', nested(barrier, a, b))
        runner.start('T2', nested(barrier, b, a))
        runner.join()
        [report] = [str(e) for e in runner.errors.values()]
        return report

    def test_lockutils_named_locks_in_a_cycle(self):
        names = [f'instance-{uuid.uuid4()}', 'compute_resources']
        report = self.crossed_cycle(*names)
        self.assertIn(f'  "T1" waits for lockutils lock "{names[1]}", held '
                      f'by "T2"', report)
        self.assertIn(f'  "T2" waits for lockutils lock "{names[0]}", held '
                      f'by "T1"', report)
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def test_lock_names_of_any_hashable_type(self):
        # Designate names its locks with bytes; lockutils keeps b'x' and
        # 'x' apart, and so does the detector.
        # nested's ``with hold(first):``
        first = nested.__code__.co_firstlineno + 9
        report = self.crossed_cycle(b'create-new-zone', ('zone', 7))
        self.assertIn(f'  "T1" waits for lockutils lock (\'zone\', 7), held '
                      f'by "T2" (acquired at {HERE}:{first})', report)
        self.assertIn(f'  "T2" waits for lockutils lock b\'create-new-zone\', '
                      f'held by "T1" (acquired at {HERE}:{first})',
                      report)
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def test_bytes_and_str_names_are_two_locks(self):
        with lockutils.lock(b'zone'):
            with lockutils.lock('zone'):
                pass
            enter = lockutils.lock(b'zone').__enter__
            line = line_here()
            error = self.assertRaises(nova_fixtures.DeadlockError, enter)
        self.assertEqual(
            f'self-deadlock: "MainThread" acquires the lockutils lock '
            f"b'zone' again, at {HERE}:{line}, while holding it "
            f'(not re-entrant)', str(error))
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())


class TestOtherDeadlocks(DeadlockTestCase):

    def test_event_event_all_blocked(self):
        first, second = threading.Event(), threading.Event()

        def waiter():
            first.wait()
            second.set()

        thread = threading.Thread(target=waiter, name='waiter')
        thread.start()
        line = line_here()
        error = self.assertRaises(nova_fixtures.DeadlockError, second.wait)
        self.assertTrue(str(error).startswith(
            'all 2 test thread(s) are blocked and nothing can wake them:\n'),
            str(error))
        self.assertIn(f'  "MainThread" waits at {HERE}:{line} (Condition, '
                      f'Event or queue)', str(error))
        first.set()
        thread.join()
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def test_self_deadlock_is_reported_at_once(self):
        line_made = line_here()
        lock = threading.Lock()
        lock.acquire()
        line = line_here()
        error = self.assertRaises(nova_fixtures.DeadlockError, lock.acquire)
        self.assertEqual(
            f'self-deadlock: "MainThread" acquires the lock made at '
            f'{HERE}:{line_made} again, at {HERE}:{line}, while holding it '
            f'(not re-entrant)', str(error))
        lock.release()
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def test_self_deadlock_from_a_frame_with_no_site_says_so(self):
        # NOTE(tests): issue 23: the report said "again, at , while
        # holding it". Both acquires run with no frame of user code: the
        # thread's target is C (list over a map), called by threading.py.
        line_made = line_here()
        lock = threading.Lock()
        thread = threading.Thread(
            target=list, args=(map(operator.methodcaller('acquire'),
                                   [lock, lock]),), name='no-site')
        thread.start()
        line = line_here()
        error = self.assertRaises(nova_fixtures.DeadlockError, thread.join)
        # NOTE(tests): the main thread's stack below depends on the runner.
        self.assertEqual(
            [f'self-deadlock: "no-site" acquires the lock made at '
             f'{HERE}:{line_made} again, at ?, while holding it '
             f'(not re-entrant)',
             'and every other test thread is blocked:',
             f'  "MainThread" waits at {HERE}:{line} (Condition, Event or '
             f'queue)'], str(error).splitlines()[:3])
        self.assertEqual([str(error)], self.fixture.deadlocks)
        # NOTE(tests): a Lock may be released by any thread: this one
        # lets the second acquire through, and the thread ends.
        lock.release()
        thread.join()
        self.assertRaises(nova_fixtures.DeadlockError, self.finish())

    def test_self_deadlock_on_a_clock_alone_names_no_empty_site(self):
        # NOTE(tests): without the detector acquires are not tracked (no
        # site); the clock reports the thread blocked for good.
        self.finish_quietly()
        self.useFixture(nova_fixtures.ClockFixture())
        line_made = line_here()
        lock = threading.Lock()
        lock.acquire()
        error = self.assertRaises(nova_fixtures.DeadlockError, lock.acquire)
        self.assertEqual(
            f'self-deadlock: "MainThread" acquires the lock made at '
            f'{HERE}:{line_made} again, at ?, while holding it '
            f'(not re-entrant)', str(error))
        lock.release()

    def test_rlock_reentry_and_timed_reacquire_are_fine(self):
        rlock = threading.RLock()
        with rlock:
            with rlock:
                pass
        lock = threading.Lock()
        lock.acquire()
        self.assertFalse(lock.acquire(timeout=0.01))
        lock.release()
        self.finish()()


class TestNoFalseDeadlocks(DeadlockTestCase):
    """Idioms that look like deadlocks and are not (issue 9)."""

    def test_lock_released_by_another_thread_binary_semaphore(self):
        lock = threading.Lock()
        lock.acquire()

        def release_once_waited_for():
            wait_until_queued(lock, 1)
            lock.release()

        releaser = threading.Thread(target=release_once_waited_for)
        releaser.start()
        # NOTE(tests): blocks until the other thread releases it: legal
        # for a Lock, which has no owner.
        self.assertTrue(lock.acquire())
        releaser.join()
        lock.release()
        self.assertEqual([], self.fixture.deadlocks)
        self.finish()()

    def test_timed_back_off_is_not_a_cycle(self):
        a, b = threading.Lock(), threading.RLock()
        b_taken = threading.Event()
        backed_off = []

        def other():
            with b:
                b_taken.set()
                # NOTE(tests): the back-off idiom: try, give up, release.
                while not a.acquire(timeout=0.01):
                    backed_off.append(1)
                    b.release()
                    b.acquire()
                a.release()

        with a:
            thread = threading.Thread(target=other)
            thread.start()
            b_taken.wait()
            with b:
                pass
        thread.join()
        self.assertEqual([], self.fixture.deadlocks)
        self.finish()()


class TestLockOrder(DeadlockTestCase):

    def test_lockutils_inversion_that_never_deadlocks(self):
        instance = f'instance-{uuid.uuid4()}'
        first = line_here()
        with lockutils.lock('compute_resources'):
            with lockutils.lock(instance):
                pass
        second = line_here()
        with lockutils.lock(instance):
            with lockutils.lock('compute_resources'):
                pass
        [report] = self.fixture.inversions
        self.assertTrue(report.startswith(
            f'possible circular locking dependency: '
            f'lockutils:compute_resources is taken while holding '
            f'lockutils:{instance} (lockutils:instance-<uuid>), but '
            f'lockutils:compute_resources -> lockutils:instance-<uuid> was '
            f'taken before\n'), report)
        self.assertIn(f'{HERE}:{first + 1} in '
                      f'test_lockutils_inversion_that_never_deadlocks', report)
        self.assertIn(f'{HERE}:{second + 1} in '
                      f'test_lockutils_inversion_that_never_deadlocks', report)
        error = self.assertRaises(nova_fixtures.LockOrderError,
                                  self.finish())
        self.assertEqual(report, str(error))

    def test_inversion_of_bytes_named_locks(self):
        zone = f'zone-{uuid.uuid4()}'.encode()
        with lockutils.lock(b'create-new-zone'):
            with lockutils.lock(zone):
                pass
        with lockutils.lock(zone):
            with lockutils.lock(b'create-new-zone'):
                pass
        [report] = self.fixture.inversions
        self.assertTrue(report.startswith(
            f"possible circular locking dependency: "
            f"lockutils:b'create-new-zone' is taken while holding "
            f"lockutils:{zone!r} (lockutils:b'zone-<uuid>'), but "
            f"lockutils:b'create-new-zone' -> lockutils:b'zone-<uuid>' was "
            f"taken before\n"), report)
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())

    def test_locks_are_named_as_the_code_names_them(self):
        class Engine:
            def __init__(self):
                self._lock = threading.Lock()
                self._ledger = threading.Lock()

        made = Engine.__init__.__code__.co_firstlineno + 1
        engine = Engine()
        with engine._ledger:
            with engine._lock:
                pass
        taken = line_here()
        with engine._lock:
            with engine._ledger:
                pass
        [report] = self.fixture.inversions
        first, one, another = report.split('\n')[:3]
        self.assertTrue(first.startswith(
            f'possible circular locking dependency: Engine._ledger '
            f'({HERE}:{made + 1})'), first)
        self.assertIn(f' is taken while holding Engine._lock ({HERE}:{made}),',
                      first)
        self.assertTrue(first.endswith(
            ', but Engine._ledger -> Engine._lock was taken before'), first)
        self.assertEqual(f'  one thread: holds Engine._lock (taken at '
                         f'{HERE}:{taken}), waits for Engine._ledger', one)
        self.assertEqual('  another:    holds Engine._ledger, waits for '
                         'Engine._lock', another)
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())

    def test_each_inversion_is_reported_once(self):
        a, b = threading.Lock(), threading.Lock()
        for _ in range(3):
            with a:
                with b:
                    pass
            with b:
                with a:
                    pass
        self.assertEqual(1, len(self.fixture.inversions))
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())

    def test_record_mode_only_records(self):
        self.finish_quietly()
        fixture = nova_fixtures.DeadlockFixture(on_inversion='record')
        with fixture:
            a, b = threading.Lock(), threading.Lock()
            with a, b:
                pass
            with b, a:
                pass
            self.assertEqual(1, len(fixture.inversions))


class TestTeardown(testtools.TestCase):
    """What the detector's cleanup waits for, on real time."""

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())

    def idle_pool_left_by(self, make_pool):
        # NOTE(tests): were an idle worker waited for, cleanUp would take
        # the hour of unwind_timeout and the test time out.
        fixture = nova_fixtures.DeadlockFixture(unwind_timeout=3600)
        fixture.setUp()
        pool = make_pool()
        self.addCleanup(pool.shutdown)
        self.assertEqual(2, pool.submit(lambda: 2).result())
        fixture.cleanUp()
        return pool

    def test_threads_stay_instrumented_while_the_teardown_waits(self):
        # NOTE(tests): a worker that goes back to its queue while the
        # teardown waits must park there as a test thread, at rest; on a
        # real lock (instrumentation undone first) it was waited for the
        # whole unwind_timeout (a hang of the stress loop, 3.10).
        fixture = nova_fixtures.DeadlockFixture(unwind_timeout=10)
        fixture.setUp()
        gate = _thread.allocate_lock()  # real: a member on it is busy
        gate.acquire()
        work = queue.Queue()

        def worker():
            with gate:
                pass
            work.get()

        thread = threading.Thread(target=worker, name='late-worker')
        thread.start()
        real_unwind, instrumented = fixture._unwind, []

        def unwind(members):
            instrumented.append(
                threading._allocate_lock is not _thread.allocate_lock)
            gate.release()
            real_unwind(members)

        fixture._unwind = unwind
        fixture.cleanUp()
        with fixture.bubble.mutex:
            at_rest = fixture.bubble.at_rest(thread.ident)
        work.put(None)
        thread.join()
        self.assertEqual(([True], True), (instrumented, at_rest))

    def test_idle_stdlib_pool_workers_are_not_waited_for(self):
        pool = self.idle_pool_left_by(
            lambda: concurrent.futures.ThreadPoolExecutor(2))
        self.assertTrue(all(t.is_alive() for t in pool._threads))

    def test_idle_futurist_pool_workers_are_not_waited_for(self):
        pool = self.idle_pool_left_by(lambda: futurist.ThreadPoolExecutor(2))
        self.assertTrue(all(w.is_alive() for w in pool._workers))

    def test_a_thread_unwinding_from_the_teardown_is_waited_for(self):
        fixture = nova_fixtures.DeadlockFixture(unwind_timeout=3600)
        fixture.setUp()
        made = line_here()
        lock, raised = threading.Lock(), []
        lock.acquire()

        def blocked():
            try:
                lock.acquire()
            except nova_fixtures.DeadlockError as exc:
                raised.append(str(exc))

        thread = threading.Thread(target=blocked)
        thread.start()
        wait_until_queued(lock, 1)
        fixture.cleanUp()
        self.assertFalse(thread.is_alive())
        self.assertEqual(['abandoned at the end of the test: this thread '
                          'was still waiting for lock made at '
                          f'{HERE}:{made}'],
                         raised)


class TestMisuse(testtools.TestCase):

    def test_bad_mode(self):
        error = self.assertRaises(ValueError, nova_fixtures.DeadlockFixture,
                                  on_inversion='explode')
        self.assertEqual("on_inversion must be 'fail' or 'record', got "
                         "'explode'", str(error))

    def test_nested_is_refused(self):
        self.useFixture(nova_fixtures.DeadlockFixture())
        error = self.assertRaises(Exception,
                                  nova_fixtures.DeadlockFixture().setUp)
        self.assertEqual(
            "a DeadlockFixture is already active; they don't nest. The "
            f"active one was set up by {self.id()} at:",
            str(error.args[0][1]).splitlines()[0])


class TestUnderTheClock(testtools.TestCase):

    def test_cycle_detected_on_virtual_time_too(self):
        self.useFixture(nova_fixtures.ClockFixture())
        fixture = nova_fixtures.DeadlockFixture()
        fixture.setUp()
        a, b = threading.Lock(), threading.Lock()
        barrier = threading.Barrier(2)
        runner = Runner()
        runner.start('T1', nested(barrier, a, b))
        runner.start('T2', nested(barrier, b, a))
        runner.join()
        self.assertEqual(1, len(runner.errors))
        self.assertRaises(nova_fixtures.DeadlockError, fixture.cleanUp)
