"""ClockFixture: virtual reads and waits, autojump, budgets, misuse."""

import concurrent.futures
import queue
import socket
import sys
import threading
import time

import fixtures
import futurist
from futurist import waiters
import oslo_messaging
from oslo_config import cfg
from oslo_service import loopingcall
from oslo_service import periodic_task
from oslo_utils import timeutils
import testtools

import nova_fixtures
from nova_fixtures import _hints
from nova_fixtures import _instrument
from nova_fixtures import _timeswap
from nova_fixtures import clock as clock_mod


def hang_or_sleep(i, gate, hung=3):
    if i == hung:
        gate.wait()
        return i, None
    time.sleep(i + 1)  # allow-sleep: virtual time
    return i, time.monotonic()


class _ImportTimePoller(periodic_task.PeriodicTasks):
    """A task stamped, as oslo.service does, when this module is imported.
    """

    def __init__(self):
        super().__init__(cfg.ConfigOpts())
        self.stamps = []
        self.done = threading.Event()

    @periodic_task.periodic_task(spacing=60)
    def poll(self, context):
        self.stamps.append(time.monotonic())
        if len(self.stamps) == 3:
            self.done.set()


class ClockTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.clock = self.useFixture(nova_fixtures.ClockFixture())
        self.t0 = time.monotonic()


class TestReadsAndWaits(ClockTestCase):

    def test_sleep_moves_every_clock_alias_together(self):
        wall = time.time()
        time.sleep(3600 - 1)  # allow-sleep: virtual time
        self.assertEqual(3599, self.clock.now())
        self.assertEqual(self.t0 + 3599, time.monotonic())
        self.assertEqual(self.t0 + 3599, threading._time())
        self.assertEqual(self.t0 + 3599, queue.time())
        self.assertEqual(self.t0 + 3599, timeutils.now())
        self.assertEqual(3599, round(time.time() - wall))

    def test_timed_waits_of_every_primitive_expire_on_virtual_time(self):
        self.assertFalse(threading.Event().wait(10))
        condition = threading.Condition()
        with condition:
            self.assertFalse(condition.wait(10))
            self.assertFalse(condition.wait_for(lambda: False, 10))
        self.assertFalse(threading.Semaphore(0).acquire(timeout=10))
        lock = threading.Lock()
        lock.acquire()
        self.assertFalse(lock.acquire(timeout=10))
        self.assertRaises(queue.Empty, queue.Queue().get, timeout=10)
        self.assertRaises(queue.Empty, queue.SimpleQueue().get, timeout=10)
        self.assertRaises(threading.BrokenBarrierError,
                          threading.Barrier(2).wait, 10)
        self.assertEqual(80, self.clock.now())

    def test_timer_fires_on_virtual_time(self):
        fired = []
        timer = threading.Timer(30, lambda: fired.append(time.monotonic()))
        timer.start()
        timer.join()
        self.assertEqual([self.t0 + 30], fired)

    def test_ties_fire_in_the_order_they_were_set(self):
        order = []

        def sleeper(name):
            time.sleep(5)  # allow-sleep: virtual time
            order.append(name)

        threads = [threading.Thread(target=sleeper, args=(n,))
                   for n in 'abcd']
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(5, self.clock.now())
        self.assertEqual(4, len(order))

    def test_advance_moves_time_and_fires_due_timers(self):
        self.clock.advance(12.5)
        self.assertEqual(12.5, self.clock.now())
        self.assertEqual(self.t0 + 12.5, time.monotonic())

    def test_threads_outside_the_test_keep_real_time(self):
        self.clock.advance(1000)
        outside = []

        def read():
            outside.append(time.monotonic())

        # NOTE(tests): started by a thread the clock doesn't know, through
        # the real start: not a member.
        thread = threading.Thread(target=read)
        with self.clock.hold():
            members = clock_mod.active_bubble().members
            members.pop(threading.get_ident())
            try:
                thread.start()
            finally:
                members[threading.get_ident()] = 'root'
        thread.join()
        self.assertLess(outside[0] - self.t0, 1000)


class TestScatterGather(ClockTestCase):

    def setUp(self):
        super().setUp()
        self.gate = threading.Event()
        self.addCleanup(self.gate.set)

    def test_concurrent_futures_wait_with_a_hung_worker(self):
        executor = concurrent.futures.ThreadPoolExecutor(5)
        self.addCleanup(executor.shutdown, wait=False)
        futures = [executor.submit(hang_or_sleep, i, self.gate)
                   for i in range(5)]
        done, not_done = concurrent.futures.wait(futures, timeout=60)
        self.assertEqual(60, self.clock.now())
        self.assertEqual([futures[3]], list(not_done))
        self.assertEqual([(0, self.t0 + 1), (1, self.t0 + 2),
                          (2, self.t0 + 3), (4, self.t0 + 5)],
                         sorted(f.result() for f in done))

    def test_futurist_wait_for_all_as_nova_writes_it(self):
        executor = futurist.ThreadPoolExecutor(5)
        self.addCleanup(executor.shutdown, wait=False)
        futures = [executor.submit(hang_or_sleep, i, self.gate)
                   for i in range(5)]
        done, not_done = waiters.wait_for_all(futures, 60)
        self.assertEqual(60, self.clock.now())
        self.assertEqual(4, len(done))

    def test_scatter_gather_helper_with_hung_and_failing_targets(self):
        faults = self.useFixture(nova_fixtures.ScatterFaultsFixture())
        faults.hang('cell2')
        faults.fail('cell3', LookupError('cell3 is down'))
        results = nova_fixtures.scatter_gather(
            ['cell1', 'cell2', 'cell3'], lambda cell, n: (cell, n), 60, n=1)
        self.assertEqual(60, self.clock.now())
        self.assertEqual(('cell1', 1), results['cell1'])
        self.assertIs(nova_fixtures.DID_NOT_RESPOND, results['cell2'])
        self.assertIsInstance(results['cell3'], LookupError)

    def test_scatter_gather_refuses_bad_input(self):
        error = self.assertRaises(ValueError, nova_fixtures.scatter_gather,
                                  ['a', 'a'], lambda t: t, 1)
        self.assertEqual("targets repeat: ['a', 'a']", str(error))
        error = self.assertRaises(ValueError, nova_fixtures.scatter_gather,
                                  ['a'], lambda t: t, -1)
        self.assertEqual('scatter_gather timeout must be a finite number of '
                         'seconds >= 0, got -1', str(error))


class TestLoopingCallsAndServices(ClockTestCase):

    def test_fixed_interval_looping_call_runs_ten_times_in_600_s(self):
        # NOTE(tests): oslo.service's threading LoopingCall runs on a
        # futurist executor it never shuts down; its idle worker goes only
        # once the executor is garbage collected (a reference cycle), and
        # a gc.collect() while that worker still finishes its work item
        # keeps it (seen once under load). Shut those executors down.
        executors = []
        make = futurist.ThreadPoolExecutor

        def recorded(*args, **kwargs):
            executors.append(make(*args, **kwargs))
            return executors[-1]

        self.useFixture(fixtures.MonkeyPatch(
            'futurist.ThreadPoolExecutor', recorded))
        self.addCleanup(lambda: [e.shutdown() for e in executors])
        stamps = []

        def tick():
            stamps.append(self.clock.now())
            if len(stamps) == 10:
                raise loopingcall.LoopingCallDone()

        call = loopingcall.FixedIntervalLoopingCall(tick)
        call.start(interval=60).wait()
        self.assertEqual([60.0 * i for i in range(10)], stamps)

    def test_call_monitor_heartbeats_keep_a_long_call_alive(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())

        class Slow:
            def work(self, ctxt, seconds):
                time.sleep(seconds)  # allow-sleep: virtual time
                return 'done'

        self.useFixture(nova_fixtures.ServiceFixture(Slow(), 'slow', 's1',
                                                     bus))
        client = bus.rpc_client('slow', timeout=20, call_monitor_timeout=2)
        self.assertEqual('done', client.call({}, 'work', seconds=5))
        self.assertEqual(5, self.clock.now())
        # NOTE(tests): heartbeats every 1 s (half the monitor timeout). The
        # one due at 5 s ties with the end of the work, whose sleep began
        # first: the work ends first, and the heartbeat never goes out.
        replies = bus.broker.journal.entries(kind='reply')
        self.assertEqual(5, len(replies))
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          bus.rpc_client('slow', timeout=3).call, {},
                          'work', seconds=5)

    def test_service_periodic_tasks_run_on_the_virtual_clock(self):
        from oslo_config import cfg
        from oslo_service import periodic_task

        class Poller(periodic_task.PeriodicTasks):
            def __init__(self):
                super().__init__(cfg.ConfigOpts())
                self.stamps = []
                self.done = threading.Event()

            @periodic_task.periodic_task(spacing=60, run_immediately=True)
            def poll(self, context):
                self.stamps.append(time.monotonic())
                if len(self.stamps) == 10:
                    self.done.set()

            def status(self, ctxt):
                return len(self.stamps)

        bus = self.useFixture(nova_fixtures.TransportFixture())
        poller = Poller()
        self.useFixture(nova_fixtures.ServiceFixture(poller, 'poll', 'p1',
                                                     bus))
        self.assertTrue(poller.done.wait(3600))
        # NOTE(tests): oslo.service aligns runs to spacing boundaries, so
        # gaps are about, not exactly, 60 s.
        gaps = [b - a for a, b in zip(poller.stamps, poller.stamps[1:10])]
        self.assertTrue(all(50 <= gap <= 70 for gap in gaps), gaps)

    def test_a_task_not_run_immediately_first_runs_a_spacing_after_start(
            self):
        # NOTE(tests): oslo.service stamped its last run at import, in real
        # time: due at once on the clock, then on a grid whose phase was
        # the real import time, different in every run.
        poller = _ImportTimePoller()
        self.useFixture(nova_fixtures.PeriodicJitterFixture())
        bus = self.useFixture(nova_fixtures.TransportFixture())
        self.useFixture(nova_fixtures.ServiceFixture(poller, 'poll', 'p1',
                                                     bus))
        self.assertTrue(poller.done.wait(3600))
        self.assertEqual([60, 120, 180],
                         [stamp - self.t0 for stamp in poller.stamps])

    def test_rpc_call_to_a_down_server_times_out_on_the_virtual_clock(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())

        class Echo:
            def echo(self, ctxt, value):
                return value

        service = self.useFixture(nova_fixtures.ServiceFixture(
            Echo(), 'echo', 'e1', bus))
        client = bus.rpc_client('echo', server='e1', timeout=60)
        self.assertEqual(1, client.call({}, 'echo', value=1))
        bus.broker.take_down('e1')
        self.assertRaises(oslo_messaging.MessagingTimeout, client.call, {},
                          'echo', value=2)
        self.assertEqual(60, self.clock.now())
        bus.broker.bring_up('e1')
        bus.settle()
        self.assertEqual('expired', bus.broker.journal.entries(
            kind='call')[-1].outcome)
        service.stop()


class TestSettleHoldAndReports(ClockTestCase):

    def test_settle_waits_until_others_are_durably_blocked(self):
        steps = []
        gate = threading.Event()

        def worker():
            steps.append('started')
            gate.wait()
            steps.append('released')

        thread = threading.Thread(target=worker)
        thread.start()
        self.clock.settle()
        self.assertEqual(['started'], steps)
        gate.set()
        thread.join()
        self.assertEqual(['started', 'released'], steps)

    def test_hold_keeps_time_still_until_released(self):
        thread = threading.Thread(target=time.sleep, args=(10,))
        with self.clock.hold():
            thread.start()
            self.clock.settle()
            self.assertEqual(0, self.clock.now())
        thread.join()
        self.assertEqual(10, self.clock.now())

    def test_every_thread_blocked_with_no_timer_is_a_deadlock(self):
        first, second = threading.Event(), threading.Event()

        waiter_line = sys._getframe().f_lineno + 3

        def wait_for_first():
            first.wait()
            second.set()

        thread = threading.Thread(target=wait_for_first, name='waiter')
        thread.start()
        error = self.assertRaises(nova_fixtures.DeadlockError, second.wait)
        self.assertTrue(str(error).startswith(
            'all 2 test thread(s) are blocked and nothing can wake them:\n'),
            str(error))
        self.assertIn('  "waiter" waits at ', str(error))
        self.assertIn(f'test_clock.py:{waiter_line} (Condition, Event or '
                      f'queue)\n', str(error))
        first.set()
        thread.join()

    def test_budget_exceeded_fails_the_test_thread(self):
        error = self.assertRaises(nova_fixtures.ClockError, time.sleep,
                                  7200)
        self.assertEqual('virtual time budget of 3600 s exceeded: the next '
                         'deadline is at 7200 s; raise it with '
                         'ClockFixture(max_virtual=...) or '
                         'TestCase.CLOCK_OPTIONS', str(error))


class TestStallReport(testtools.TestCase):

    def test_no_report_names_nobody_while_the_clock_is_set_up(self):
        # NOTE(tests): a loaded machine, simulated: patching time takes 20
        # watchdog intervals, before any test thread is a member.
        clock = nova_fixtures.ClockFixture(max_real_stall=0.01)
        patch_time = clock._patch_time

        def slow_patch_time():
            threading.Event().wait(0.2)  # allow-sleep: real, before the clock
            patch_time()

        clock._patch_time = slow_patch_time
        self.useFixture(clock)
        for report in clock.reports:
            self.assertIn('\n  "MainThread" ', report)

    def test_thread_blocked_in_a_socket_stalls_time_and_is_named(self):
        clock = self.useFixture(nova_fixtures.ClockFixture(
            max_real_stall=0.05))
        left, right = socket.socketpair()
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        got = []
        thread = threading.Thread(target=lambda: got.append(right.recv(1)),
                                  name='socket-reader')
        thread.start()
        named = ('  "socket-reader" is running (not on an instrumented '
                 'wait)')
        # NOTE(tests): a virtual wait that can't jump while the reader is
        # in recv(); the real-time watchdog reports and sets the event. On
        # a loaded machine it may first report this thread, still on its
        # way into the wait; it reports again once the wait begins.
        while not any(named in r for r in clock.reports):
            self.assertTrue(clock.stalled.wait(3600))
            clock.stalled.clear()
        self.assertEqual(0, clock.now())
        report = next(r for r in clock.reports if named in r)
        self.assertTrue(report.startswith(
            'virtual time frozen at 0 s for 0.05 s of real time: a test '
            'thread is not durably blocked:\n'), report)
        left.send(b'x')
        thread.join()
        self.assertEqual([b'x'], got)


class TestMisuse(testtools.TestCase):

    def test_advance_refuses_negative_and_non_finite(self):
        clock = self.useFixture(nova_fixtures.ClockFixture())
        for bad in (-1, float('inf'), float('nan'), '5'):
            error = self.assertRaises(ValueError, clock.advance, bad)
            self.assertEqual(f'advance() needs a finite number of seconds '
                             f'>= 0, got {bad!r}', str(error))

    def test_advance_past_the_budget_is_refused(self):
        clock = self.useFixture(nova_fixtures.ClockFixture())
        clock.advance(600)
        for too_far in (1e9, 10 ** 400):
            error = self.assertRaises(nova_fixtures.ClockError,
                                      clock.advance, too_far)
            self.assertEqual(
                f'advance({too_far!r}) would pass the virtual time budget '
                f'of 3600 s (now 600 s); raise it with '
                f'ClockFixture(max_virtual=...) or TestCase.CLOCK_OPTIONS',
                str(error))
        self.assertEqual(600, clock.now())

    def test_budget_errors_name_the_marker_of_a_clock_pytest_set_up(self):
        clock = nova_fixtures.ClockFixture(max_virtual=60)
        _hints.set_up_by_marker(clock, 'nova_clock')
        self.useFixture(clock)
        error = self.assertRaises(nova_fixtures.ClockError, clock.advance,
                                  61)
        self.assertEqual(
            'advance(61) would pass the virtual time budget of 60 s (now '
            '0 s); raise it with @pytest.mark.nova_clock(max_virtual=...)',
            str(error))
        error = self.assertRaises(nova_fixtures.ClockError, time.sleep, 61)
        self.assertEqual(
            'virtual time budget of 60 s exceeded: the next deadline is at '
            '61 s; raise it with @pytest.mark.nova_clock(max_virtual=...)',
            str(error))

    def test_bad_arguments_are_refused_at_construction(self):
        # NOTE(tests): max_virtual=-1 failed only at the first wait.
        nan, inf = float('nan'), float('inf')
        for kwargs, text in [
                ({'max_virtual': -1}, 'max_virtual must be a finite number '
                 'of seconds > 0, got -1'),
                ({'max_virtual': 0}, 'max_virtual must be a finite number '
                 'of seconds > 0, got 0'),
                ({'max_virtual': nan}, 'max_virtual must be a finite number '
                 'of seconds > 0, got nan'),
                ({'max_virtual': inf}, 'max_virtual must be a finite number '
                 'of seconds > 0, got inf'),
                ({'max_real_stall': -0.5}, 'max_real_stall must be a number '
                 'of seconds > 0, got -0.5'),
                ({'max_real_stall': nan}, 'max_real_stall must be a number '
                 'of seconds > 0, got nan'),
                ({'start_wall': nan}, 'start_wall must be a finite number '
                 'of seconds since the epoch or None, got nan'),
                ({'start_wall': -inf}, 'start_wall must be a finite number '
                 'of seconds since the epoch or None, got -inf')]:
            error = self.assertRaises(ValueError, nova_fixtures.ClockFixture,
                                      **kwargs)
            self.assertEqual(f'ClockFixture {text}', str(error))
        for kwargs, text in [
                ({'max_virtual': '60'}, "max_virtual must be a number of "
                 "seconds, got '60'"),
                ({'max_virtual': True}, 'max_virtual must be a number of '
                 'seconds, got True'),
                ({'max_real_stall': None}, 'max_real_stall must be a number '
                 'of seconds, got None'),
                ({'start_wall': '0'}, "start_wall must be a number of "
                 "seconds since the epoch or None, got '0'")]:
            error = self.assertRaises(TypeError, nova_fixtures.ClockFixture,
                                      **kwargs)
            self.assertEqual(f'ClockFixture {text}', str(error))

    def test_unbounded_stall_and_old_wall_are_accepted(self):
        clock = nova_fixtures.ClockFixture(max_real_stall=float('inf'),
                                           start_wall=-86400)
        with clock:
            self.assertEqual(-86400, time.time())
            time.sleep(5)  # allow-sleep: virtual time
            self.assertEqual(-86395, time.time())

    def test_nested_clocks_are_refused(self):
        self.useFixture(nova_fixtures.ClockFixture())
        error = self.assertRaises(Exception, nova_fixtures.ClockFixture()
                                  .setUp)
        first = error.args[0][1]
        self.assertIsInstance(first, nova_fixtures.ClockError)
        self.assertEqual(
            "a ClockFixture is already active in this process; clocks don't "
            f"nest. The active one was set up by {self.id()} at:",
            str(first).splitlines()[0])

    def test_eventlet_patched_interpreter_is_refused(self):
        from eventlet import patcher
        patcher.already_patched['thread'] = True
        self.addCleanup(patcher.already_patched.pop, 'thread')
        error = self.assertRaises(Exception,
                                  nova_fixtures.ClockFixture().setUp)
        self.assertEqual("ClockFixture can't run under an eventlet-patched "
                         "interpreter", str(error.args[0][1]))

    def test_cleanup_restores_real_time_and_wakes_parked_threads(self):
        real_lock = threading.Lock
        clock = nova_fixtures.ClockFixture()
        clock.setUp()
        parked = threading.Thread(target=time.sleep, args=(3000,))
        parked.start()
        clock.settle()
        clock.cleanUp()
        parked.join()
        self.assertLess(abs(time.monotonic() -
                            _timeswap.REAL['monotonic']()), 1)
        # NOTE(tests): a factory up to 3.12, a class from 3.13.
        self.assertIs(real_lock, threading.Lock)
        self.assertIs(threading._allocate_lock, _instrument._REAL_ALLOCATE)
        self.assertIsNot(queue.SimpleQueue, queue._PySimpleQueue)


class TestDatetimeReadingsMove(testtools.TestCase):
    """Records stamped one after the other keep their order."""

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ClockFixture())

    def test_work_between_readings_takes_a_microsecond(self):
        import datetime
        import queue

        requests, replies, stamps = queue.Queue(), queue.Queue(), []

        def service():
            # a service stamping each record it makes (created_at), called
            # as over RPC: the caller waits for each reply
            for _ in iter(requests.get, None):
                stamps.append(datetime.datetime.now(datetime.timezone.utc))
                replies.put('created')

        thread = threading.Thread(target=service)
        thread.start()
        wall = time.time()
        first = datetime.datetime.now(datetime.timezone.utc)
        for _ in range(5):
            requests.put('create')
            self.assertEqual('created', replies.get())
        requests.put(None)
        thread.join()
        last = datetime.datetime.now(datetime.timezone.utc)
        again = datetime.datetime.now(datetime.timezone.utc)
        readings = [first] + stamps + [last]
        self.assertEqual(sorted(set(readings)), readings)
        self.assertEqual(last, again)
        self.assertEqual(wall, time.time())
        self.assertLessEqual(last - first,
                             datetime.timedelta(microseconds=6))
        # a wait catches the readings up: time.time() leads again
        time.sleep(1)  # allow-sleep: virtual time
        self.assertEqual(wall + 1, time.time())
        self.assertEqual(datetime.datetime.fromtimestamp(
            wall + 1, datetime.timezone.utc),
            datetime.datetime.now(datetime.timezone.utc))

    def test_work_in_one_thread_between_readings_counts_too(self):
        import datetime

        pool_lock = threading.Lock()

        def create():
            # a record's worth of work (it takes the pool's lock), then its
            # created_at; as much computing without a lock moves nothing
            with pool_lock:
                sum(range(1000))
            return datetime.datetime.now(datetime.timezone.utc)

        def compute():
            sum(range(100_000))
            return datetime.datetime.now(datetime.timezone.utc)

        stamps = [create() for _ in range(10)]
        self.assertEqual(sorted(set(stamps)), stamps)
        self.assertEqual(datetime.timedelta(microseconds=9),
                         stamps[-1] - stamps[0])
        self.assertEqual([stamps[-1]] * 3, [compute() for _ in range(3)])
