"""ScheduleFixture: one thread at a time, seeded, replayable, honest."""

import os
import sys
import threading
import time

import fixtures
import testtools

import nova_fixtures
from nova_fixtures import _sched
from nova_fixtures import clock as clock_mod
from nova_fixtures import schedule
from tests.unit.nova_fixtures import test_deadlock

HASHES_RANDOM = bool(sys.flags.hash_randomization) and \
    os.environ.get('PYTHONHASHSEED', 'random') == 'random'


def scheduled(body, **options):
    """Run ``body()`` on a clock under a schedule; (its value, the result).
    """
    outer = fixtures.Fixture()
    outer.setUp()
    try:
        outer.useFixture(nova_fixtures.ClockFixture())
        fixture = outer.useFixture(schedule.ScheduleFixture(**options))
        value = body()
    finally:
        outer.cleanUp()
    return value, fixture.result()


def workers(count=3, rounds=3):
    """``count`` threads taking one lock ``rounds`` times each, sleeping
    between; the order they took it in."""
    order = []
    lock = threading.Lock()

    def work(n):
        for i in range(rounds):
            with lock:
                order.append((n, i))
            time.sleep(0.01)  # allow-sleep: virtual time

    threads = [threading.Thread(target=work, args=(n,), name=f'w{n}')
               for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return order


def quietly(fixture):
    try:
        fixture.cleanUp()
    except nova_fixtures.DeadlockError:
        pass


def real_causes(result):
    return [c for c in result.causes if 'string hashing' not in c]


class ScheduleTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())


class TestOneAtATime(ScheduleTestCase):

    def test_no_two_test_threads_run_between_sync_points(self):
        # NOTE(test): a tiny switch interval makes the OS interleave the
        # threads between any two bytecodes, unless the schedule holds
        # all but one at its gate.
        self.addCleanup(sys.setswitchinterval, sys.getswitchinterval())
        sys.setswitchinterval(1e-6)
        inside = []
        overlaps = []

        def work(lock):
            for _ in range(20):
                inside.append(1)
                for _ in range(200):
                    if len(inside) > 1:
                        overlaps.append(len(inside))
                inside.pop()
                with lock:
                    pass

        def body():
            lock = threading.Lock()
            threads = [threading.Thread(target=work, args=(lock,))
                       for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        _, result = scheduled(body, seed=4, strategy='random')
        self.assertEqual([], overlaps)
        self.assertGreater(result.switches, 10)

    def test_time_jumps_only_when_no_thread_can_run(self):
        seen = []
        lock = threading.Lock()

        def sleeper():
            time.sleep(10)  # allow-sleep: virtual time

        def busy():
            for _ in range(30):
                with lock:
                    seen.append(time.monotonic())

        def body():
            start = time.monotonic()
            threads = [threading.Thread(target=sleeper),
                       threading.Thread(target=busy)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return start, time.monotonic()

        (start, end), result = scheduled(body, seed=1)
        self.assertEqual([start] * 30, seen)
        self.assertEqual(start + 10, end)

    def test_sets_up_a_clock_when_none_is_active(self):
        fixture = self.useFixture(schedule.ScheduleFixture(seed=3))
        before = time.monotonic()
        time.sleep(5)  # allow-sleep: virtual time
        self.assertEqual(before + 5, time.monotonic())
        self.assertIsNotNone(clock_mod.active_bubble())
        self.assertIs(fixture.bubble, clock_mod.active_bubble())


class TestSeeds(ScheduleTestCase):

    def test_same_seed_same_order_and_trace(self):
        for strategy in schedule.STRATEGIES:
            first, one = scheduled(workers, seed=11, strategy=strategy)
            second, two = scheduled(workers, seed=11, strategy=strategy)
            self.assertEqual(first, second)
            self.assertEqual(one.fingerprint, two.fingerprint)
            self.assertEqual(one.trace, two.trace)
            self.assertEqual(one.journal, two.journal)
            self.assertEqual([], real_causes(one))

    def test_seeds_explore_different_orders(self):
        orders = {tuple(scheduled(workers, seed=seed, strategy='random')[0])
                  for seed in range(12)}
        self.assertGreater(len(orders), 3)

    def test_pct_lowers_the_running_thread_at_its_change_points(self):
        orders = {tuple(scheduled(workers, seed=seed, strategy='pct',
                                  depth=3, steps=40)[0])
                  for seed in range(12)}
        self.assertGreater(len(orders), 2)

    def test_uuid4_and_random_follow_the_seed(self):
        import random
        import uuid

        def body():
            return uuid.uuid4(), random.random()

        one, _ = scheduled(body, seed=8)
        two, _ = scheduled(body, seed=8)
        other, _ = scheduled(body, seed=9)
        self.assertEqual(one, two)
        self.assertNotEqual(one, other)
        self.assertEqual(4, one[0].version)

    def test_result_counts_and_journal_of_a_bus(self):
        def body():
            fixture = fixtures.Fixture()
            fixture.setUp()
            try:
                bus = fixture.useFixture(nova_fixtures.TransportFixture())

                class Echo:
                    def echo(self, ctxt, x):
                        return x

                fixture.useFixture(nova_fixtures.ServiceFixture(
                    Echo(), 'echo', 'e1', bus))
                client = bus.rpc_client('echo')
                return [client.call({}, 'echo', x=i) for i in range(3)]
            finally:
                fixture.cleanUp()

        answers, one = scheduled(body, seed=2)
        _, two = scheduled(body, seed=2)
        self.assertEqual([0, 1, 2], answers)
        self.assertEqual(6, one.journal_entries)   # 3 calls, 3 replies
        self.assertEqual(one.journal, two.journal)
        self.assertEqual(one.fingerprint, two.fingerprint)
        self.assertGreater(one.steps, one.choices)
        self.assertGreater(one.choices, 0)


class TestReplay(ScheduleTestCase):

    def test_replay_of_the_same_run_is_checked_and_passes(self):
        _, recorded = scheduled(workers, seed=5)
        _, again = scheduled(workers, seed=5, expected=recorded.trace)
        self.assertIsNone(again.divergence)

    def test_divergence_names_the_step_the_threads_and_the_stack(self):
        _, recorded = scheduled(workers, seed=5)

        def changed():
            # NOTE(test): one more lock step, first thing: the replay
            # leaves the recording at once.
            with threading.Lock():
                pass
            return workers()

        error = self.assertRaises(schedule.ScheduleError, scheduled,
                                  changed, seed=5, expected=recorded.trace)
        lines = str(error).splitlines()
        first = recorded.trace[0]
        then = '"MainThread"' if first[3] == 0 else f'"thread #{first[3]}"'
        self.assertEqual(
            f'the replay diverged at step 1: recorded "MainThread" at '
            f'{first[1]} {first[2]} -> {then}, now "MainThread" at '
            f'acquire {__file__}:{changed.__code__.co_firstlineno + 3} -> '
            f'"MainThread"', lines[0])
        self.assertEqual('at:', lines[1])
        # NOTE(tests): the trace keeps whole paths; a report's stack shows
        # them below their sys.path entry.
        self.assertIn(f'{os.path.relpath(__file__)}:'
                      f'{changed.__code__.co_firstlineno + 3} in changed',
                      lines[-1])

    def test_a_replay_that_ends_early_says_so(self):
        _, recorded = scheduled(workers, seed=6)
        error = self.assertRaises(
            schedule.ScheduleError, scheduled, lambda: workers(rounds=2),
            seed=6, expected=recorded.trace)
        self.assertIn('the replay diverged at step', str(error))

    def test_forced_decisions_replay_a_run_without_its_seed(self):
        order, recorded = scheduled(workers, seed=7)
        forced = {tuple(d['key']): d['to'] for d in recorded.decisions}
        again, replayed = scheduled(workers, seed=0, forced=forced)
        self.assertEqual(order, again)
        self.assertEqual(recorded.trace, replayed.trace)


class TestNotReplayable(ScheduleTestCase):

    def test_exact_when_nothing_escapes(self):
        _, result = scheduled(workers, seed=1)
        self.assertEqual([], real_causes(result))
        self.assertEqual(HASHES_RANDOM, any('string hashing' in c
                                            for c in result.causes))
        self.assertEqual(not HASHES_RANDOM, result.exact)

    def test_real_io_is_named_with_where(self):
        def body():
            with nova_fixtures.io_wait():
                pass

        _, result = scheduled(body, seed=1)
        line = body.__code__.co_firstlineno + 1
        self.assertEqual(
            [f'"MainThread" waits for real I/O (io, at {__file__}:{line}), '
             f'which the schedule can\'t order'], real_causes(result))
        self.assertFalse(result.exact)

    def test_a_thread_outside_the_test_waking_one_is_named(self):
        handed = []
        go = threading.Event()
        outsider = threading.Thread(
            target=lambda: (go.wait(), handed[0].set()), name='outsider')
        outsider.start()
        self.addCleanup(outsider.join)

        def body():
            ready = threading.Event()
            handed.append(ready)
            with clock_mod.active_bubble().hold():
                go.set()
                return ready.wait(30)

        woke, result = scheduled(body, seed=1)
        self.assertTrue(woke)
        causes = real_causes(result)
        self.assertNotEqual([], causes)
        self.assertRegex(causes[0], r'^"outsider" \(not a test thread\) '
                                    r'woke "MainThread" from waiter ')
        # NOTE(tests): when the waiter wakes while the outsider still holds
        # the event's lock (seen under load), the outsider wakes it twice.
        for cause in causes[1:]:
            self.assertRegex(cause, r'^"outsider" \(not a test thread\) '
                                    r'woke "MainThread" from lock ')
        self.assertFalse(result.exact)

    def test_a_thread_blocked_outside_any_wait_releases_the_schedule(self):
        made_before = threading.Lock()
        made_before.acquire()
        release = _sched.Scheduler.release

        def release_and_unblock(sched):
            release(sched)
            if made_before.locked():
                made_before.release()

        # NOTE(tests): "stuck" is let go once the watchdog released the
        # schedule, however long a loaded machine takes to get there.
        self.useFixture(fixtures.MonkeyPatch(
            'nova_fixtures._sched.Scheduler.release', release_and_unblock))
        self.addCleanup(
            lambda: made_before.locked() and made_before.release())

        def stuck():
            made_before.acquire(True, 30)

        def body():
            thread = threading.Thread(target=stuck, name='stuck')
            thread.start()
            thread.join()

        _, result = scheduled(body, seed=1, stall=0.1)
        causes = real_causes(result)
        self.assertEqual(1, len(causes), causes)
        line = stuck.__code__.co_firstlineno + 1
        self.assertRegex(
            causes[0],
            rf'^"stuck" blocked outside any instrumented wait at '
            rf'{__file__}:{line} \(a lock made before the clock, a socket, '
            rf'a C extension\); every thread ran freely from step \d+$')


class TestComposes(ScheduleTestCase):

    def test_deadlock_detector_still_reports_a_cycle(self):
        outer = fixtures.Fixture()
        outer.setUp()
        self.addCleanup(quietly, outer)
        outer.useFixture(nova_fixtures.ClockFixture())
        detector = outer.useFixture(
            nova_fixtures.DeadlockFixture(lockdep=False))
        outer.useFixture(schedule.ScheduleFixture(seed=2))
        a, b = threading.Lock(), threading.Lock()
        barrier = threading.Barrier(2)
        runner = test_deadlock.Runner()
        runner.start('ab', test_deadlock.nested(barrier, a, b))
        runner.start('ba', test_deadlock.nested(barrier, b, a))
        runner.join()
        [error] = runner.errors.values()
        self.assertIn('deadlock: a cycle of 2 thread(s)', str(error))
        self.assertEqual(1, len(detector.deadlocks))


class TestStepCap(ScheduleTestCase):
    """The trace is bounded (issue 23: a spinning thread made it grow by
    17 MB/s until the process died)."""

    def spin_on_nan(self, **options):
        """A thread spinning in ``Semaphore.acquire(timeout=nan)`` (as in
        plain Python: each turn polls) for a release by another; seed 8
        with PCT's change points early keeps the releaser starved. The
        spinner's result, the schedule's, the cleanup's error, the
        semaphore's site."""
        got = []
        outer = fixtures.Fixture()
        outer.setUp()
        error = None
        try:
            outer.useFixture(nova_fixtures.ClockFixture())
            fixture = outer.useFixture(schedule.ScheduleFixture(
                seed=8, steps=20, **options))
            site = f'{os.path.relpath(__file__)}:' \
                   f'{sys._getframe().f_lineno + 1}'
            sem = threading.Semaphore(0)
            spinner = threading.Thread(
                target=lambda: got.append(sem.acquire(timeout=float('nan'))),
                name='spinner')
            releaser = threading.Thread(target=sem.release, name='releaser')
            spinner.start()
            releaser.start()
            spinner.join()
            releaser.join()
        finally:
            try:
                outer.cleanUp()
            except schedule.ScheduleError as caught:
                error = caught
        return got, fixture.result(), error, site

    def test_a_spinning_thread_stops_at_the_cap_which_says_where(self):
        got, result, error, site = self.spin_on_nan(max_steps=300)
        text = (
            f'the schedule (seed 8) stopped at its cap of 300 trace steps '
            f'(300 with a choice of thread, 1 switch(es)): then "spinner" '
            f'was at release sem ({site}), and from there every thread ran '
            f'freely. A thread that polls or spins (a NaN timeout, a loop '
            f'on a zero timeout) takes steps for as long as it runs; if the '
            f'test needs more, raise the cap with '
            f'ScheduleFixture(max_steps=...) or request(max_steps=...)')
        self.assertIsNotNone(error)
        self.assertEqual(text, str(error))
        # NOTE(tests): released, the releaser ran and the spin ended, as
        # in plain Python; the steps so far are kept.
        self.assertEqual([True], got)
        self.assertEqual(300, len(result.trace))
        self.assertEqual(300, result.steps)
        self.assertIn(text, result.causes)
        self.assertFalse(result.exact)

    def test_a_replay_with_the_same_cap_stops_at_the_same_step(self):
        _, first, _, _ = self.spin_on_nan(max_steps=300)
        got, again, error, _ = self.spin_on_nan(max_steps=300,
                                                expected=first.trace)
        self.assertEqual([True], got)
        self.assertIsNone(again.divergence)
        self.assertEqual(first.fingerprint, again.fingerprint)
        self.assertIn('stopped at its cap of 300 trace steps', str(error))

    def test_a_run_under_the_cap_is_untouched(self):
        got, result, error, _ = self.spin_on_nan(max_steps=10 ** 6,
                                                 strategy='random')
        self.assertEqual([True], got)
        self.assertIsNone(error)
        self.assertLess(len(result.trace), 10 ** 6)

    def test_max_steps_must_be_a_whole_number_of_one_or_more(self):
        for bad in (0, -1, 1.5, True, '5', None):
            error = self.assertRaises(ValueError, schedule.ScheduleFixture,
                                      seed=1, max_steps=bad)
            self.assertEqual(f'max_steps must be a whole number >= 1, got '
                             f'{bad!r}', str(error))
        error = self.assertRaises(ValueError, schedule.request, seed=1,
                                  max_steps=0)
        self.assertEqual('max_steps must be a whole number >= 1, got 0',
                         str(error))


class TestMisuse(ScheduleTestCase):

    def test_bad_arguments(self):
        for kwargs, text in [
                ({'seed': -1}, 'seed must be a whole number >= 0, got -1'),
                ({'seed': True}, 'seed must be a whole number >= 0, got '
                                 'True'),
                ({'seed': 1, 'strategy': 'fifo'},
                 "strategy must be one of 'random', 'pct', got 'fifo'"),
                ({'seed': 1, 'depth': 0},
                 'depth must be a whole number >= 1, got 0'),
                ({'seed': 1, 'stall': 0},
                 'stall must be a number of seconds > 0 or None, got 0')]:
            error = self.assertRaises(ValueError, schedule.ScheduleFixture,
                                      **kwargs)
            self.assertEqual(text, str(error))

    def test_schedules_do_not_nest(self):
        self.useFixture(schedule.ScheduleFixture(seed=1))
        error = self.assertRaises(
            Exception, schedule.ScheduleFixture(seed=2).setUp).args[0][1]
        self.assertIsInstance(error, schedule.ScheduleError)
        self.assertEqual('a schedule (seed 1) is already active on this '
                         'clock; schedules don\'t nest', str(error))

    def test_a_deadlock_fixture_alone_is_not_enough(self):
        self.useFixture(nova_fixtures.DeadlockFixture())
        error = self.assertRaises(
            Exception, schedule.ScheduleFixture(seed=2).setUp).args[0][1]
        self.assertIsInstance(error, schedule.ScheduleError)
        self.assertEqual(
            'a DeadlockFixture is active without a ClockFixture; a schedule '
            'needs the virtual clock: set up the ClockFixture first',
            str(error))

    def test_result_before_the_end(self):
        fixture = self.useFixture(schedule.ScheduleFixture(seed=1))
        error = self.assertRaises(schedule.ScheduleError, fixture.result)
        self.assertEqual("the schedule has not finished: read its result "
                         "after the fixture's cleanup", str(error))

    def test_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_FIXTURES_SCHEDULE', '5'))
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_FIXTURES_SCHEDULE_STRATEGY', 'pct'))
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_FIXTURES_SCHEDULE_DEPTH', 'x'))
        error = self.assertRaises(schedule.ScheduleError, schedule.requested)
        self.assertEqual("NOVA_FIXTURES_SCHEDULE_DEPTH='x': depth must be a "
                         "whole number", str(error))
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_FIXTURES_SCHEDULE_DEPTH', '2'))
        self.assertEqual({'seed': 5, 'strategy': 'pct', 'depth': 2},
                         schedule.requested())
        clock = self.useFixture(nova_fixtures.ClockFixture())
        self.assertEqual(5, clock.bubble.sched.seed)
        self.assertEqual('pct', clock.bubble.sched.strategy.name)

    def test_a_token_in_the_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_FIXTURES_SCHEDULE', 'pct-d2-k40-5'))
        self.assertEqual({'seed': 'pct-d2-k40-5'}, schedule.requested())
        clock = self.useFixture(nova_fixtures.ClockFixture())
        self.assertEqual(5, clock.bubble.sched.seed)
        self.assertEqual(1, len(clock.bubble.sched.strategy.change_points))


class TestTokens(testtools.TestCase):
    """A schedule as one word: strategy, depth, steps and seed."""

    def test_a_fixture_takes_a_token_for_its_seed(self):
        fixture = schedule.ScheduleFixture('pct-d2-k40-5')
        self.assertEqual((5, 'pct', 2, 40, 'pct-d2-k40-5'),
                         (fixture.seed, fixture.strategy, fixture.depth,
                          fixture.steps, fixture.token))
        fixture = schedule.ScheduleFixture('random-7')
        self.assertEqual((7, 'random', 'random-7'),
                         (fixture.seed, fixture.strategy, fixture.token))
        self.assertEqual('pct-d3-k2000-4',
                         schedule.ScheduleFixture(4).token)

    def test_a_token_and_options_that_disagree_are_refused(self):
        error = self.assertRaises(ValueError, schedule.ScheduleFixture,
                                  'pct-d2-k40-5', steps=2000)
        self.assertEqual("schedule 'pct-d2-k40-5' names its steps (40); "
                         "steps=2000 asks for another schedule: give one or "
                         "the other", str(error))
        error = self.assertRaises(ValueError, schedule.ScheduleFixture,
                                  'random-5', strategy='pct')
        self.assertEqual("schedule 'random-5' names its strategy "
                         "('random'); strategy='pct' asks for another "
                         "schedule: give one or the other", str(error))
        # NOTE(test_schedule): repeating the token's own options is fine.
        self.assertEqual(40, schedule.ScheduleFixture(
            'pct-d2-k40-5', depth=2, steps=40).steps)

    def test_what_is_no_token(self):
        for text in ['pct-4', 'pct-d3-4', 'random-d3-k4-5', '-1', '4.0',
                     'PCT-d3-k16-4', '']:
            error = self.assertRaises(ValueError, schedule.ScheduleFixture,
                                      text)
            self.assertEqual(
                f"schedule {text!r} is neither a seed nor a schedule "
                f"token: write a whole number >= 0 (4) or a token the hunt "
                f"printed (pct-d3-k16-4, random-4)", str(error))

    def test_depth_is_bounded(self):
        error = self.assertRaises(ValueError, schedule.ScheduleFixture, 1,
                                  depth=10 ** 7)
        self.assertEqual('depth must be a whole number from 1 to 100, got '
                         '10000000', str(error))

    def test_the_result_and_its_summary_name_the_token(self):
        with nova_fixtures.ClockFixture():
            fixture = schedule.ScheduleFixture('pct-d2-k40-5')
            with fixture:
                pass
        result = fixture.result()
        self.assertEqual('pct-d2-k40-5', result.token)
        self.assertTrue(result.summary().startswith(
            'schedule pct-d2-k40-5: '), result.summary())


class TestTestCase(ScheduleTestCase):

    def run_inner(self, **env):
        seen = {}

        class Inner(nova_fixtures.TestCase):
            SCHEDULE_SEED = 9
            SCHEDULE_OPTIONS = {'strategy': 'pct'}

            def test_it(self):
                sched = self.clock.bubble.sched
                seen.update(seed=sched.seed, strategy=sched.strategy.name,
                            own=hasattr(self, 'schedule'))
                workers(count=2, rounds=1)

        for name, value in env.items():
            self.useFixture(fixtures.EnvironmentVariable(name, value))
        result = testtools.TestResult()
        Inner('test_it').run(result)
        self.assertTrue(result.wasSuccessful(), result.errors)
        return seen

    def test_schedule_seed_runs_the_test_on_its_schedule(self):
        self.assertEqual({'seed': 9, 'strategy': 'pct', 'own': True},
                         self.run_inner())
        self.assertEqual(9, schedule.last_result().seed)

    def test_a_requested_schedule_takes_its_place(self):
        self.assertEqual({'seed': 4, 'strategy': 'pct', 'own': False},
                         self.run_inner(NOVA_FIXTURES_SCHEDULE='4'))

    def test_schedule_seed_takes_a_token(self):
        seen = {}

        class Inner(nova_fixtures.TestCase):
            SCHEDULE_SEED = 'random-6'

            def test_it(self):
                seen.update(token=self.schedule.token,
                            strategy=self.clock.bubble.sched.strategy.name)

        result = testtools.TestResult()
        Inner('test_it').run(result)
        self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertEqual({'token': 'random-6', 'strategy': 'random'}, seen)
        self.assertEqual('random-6', schedule.last_result().token)
