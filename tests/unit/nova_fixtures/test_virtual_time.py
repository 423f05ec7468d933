"""apply_clock: an unedited suite runs on virtual time."""

import copy
import os
import sys
import threading
import time
import unittest

import testscenarios
import testtools

from nova_fixtures import clock
from nova_fixtures import deadlock
from nova_fixtures import virtual_time


# Reports name files below their sys.path entry: the tests run from the
# repository's root.
HERE = os.path.relpath(__file__)


def unaware_case():
    """A test case written with no thought of this library."""

    class Unaware(unittest.TestCase):

        def setUp(self):
            self.started = time.monotonic()

        def test_waits_an_hour(self):
            time.sleep(3000)  # allow-sleep: virtual time
            self.assertEqual(self.started + 3000, time.monotonic())
            self.assertIsNotNone(clock.active_bubble())

        def test_reads_real_time(self):
            self.assertIsNone(clock.active_bubble())

    return Unaware


def scenario_case(seen):
    """A testscenarios case whose setUp reads its scenario's attribute.

    Each test run appends (its id, the clock it ran in, whether that clock
    was still active during the test's own cleanups) to ``seen``.
    """

    class WithScenarios(testscenarios.WithScenarios, testtools.TestCase):

        scenarios = [('hour', {'seconds': 3600}),
                     ('minute', {'seconds': 60})]

        def setUp(self):
            super().setUp()
            self.wait = self.seconds
            self.started = time.monotonic()
            self.addCleanup(self._record_clock_at_cleanup)

        def _record_clock_at_cleanup(self):
            seen[-1] += (clock.active_bubble() is self.bubble,)

        def test_sleeps(self):
            time.sleep(self.wait)  # allow-sleep: virtual time
            self.assertEqual(self.started + self.wait, time.monotonic())
            self.bubble = clock.active_bubble()
            seen.append((self.id(), self.bubble))

    return WithScenarios


def copied_case(set_up_on):
    """A case that records each test instance its setUp runs on."""

    class Copied(testtools.TestCase):

        def setUp(self):
            super().setUp()
            set_up_on.append(self)
            self.started = time.monotonic()

        def test_waits_an_hour(self):
            time.sleep(3600)  # allow-sleep: virtual time
            self.assertEqual(self.started + 3600, time.monotonic())
            self.clock = clock.active_bubble()
            self.assertIsNotNone(self.clock)

    return Copied


class TestApplyClock(testtools.TestCase):

    def test_wraps_each_test_but_the_excluded(self):
        case = unaware_case()
        suite = unittest.TestSuite(
            [case('test_waits_an_hour'), case('test_reads_real_time')])
        virtual_time.apply_clock(suite, exclude=[r'test_reads_real_time$'])
        result = unittest.TestResult()
        start = time.perf_counter()
        suite.run(result)
        self.assertEqual([], result.errors + result.failures)
        self.assertEqual(2, result.testsRun)
        self.assertLess(time.perf_counter() - start, 3000)
        self.assertIsNone(clock.active_bubble())

    def assert_each_scenario_ran_in_a_clock_of_its_own(
            self, case, suite, seen):
        result = testtools.TestResult()
        start = time.perf_counter()
        suite.run(result)
        self.assertEqual([], result.errors + result.failures)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual(2, result.testsRun)
        self.assertLess(time.perf_counter() - start, 60)
        prefix = f'{__name__}.{case.__qualname__}.test_sleeps'
        self.assertEqual([f'{prefix}(hour)', f'{prefix}(minute)'],
                         [test_id for test_id, _, _ in seen])
        first, second = [bubble for _, bubble, _ in seen]
        self.assertIsNotNone(first)
        self.assertIsNotNone(second)
        self.assertIsNot(first, second)
        # The clock outlives the test's own cleanups...
        self.assertEqual([True, True], [kept for _, _, kept in seen])
        # ...but not the test.
        self.assertIsNone(clock.active_bubble())
        with clock.ClockFixture():
            self.assertIsNotNone(clock.active_bubble())
        self.assertIsNone(clock.active_bubble())

    def test_each_scenario_copy_runs_in_a_clock_of_its_own(self):
        seen = []
        case = scenario_case(seen)
        suite = unittest.TestSuite([case('test_sleeps')])
        virtual_time.apply_clock(suite)
        self.assert_each_scenario_ran_in_a_clock_of_its_own(case, suite, seen)

    def test_each_scenario_copy_runs_in_fixtures_of_its_own(self):
        seen = []
        case = scenario_case(seen)
        suite = unittest.TestSuite([case('test_sleeps')])
        virtual_time.apply_fixtures(
            suite, lambda: [clock.ClockFixture(), deadlock.DeadlockFixture()])
        self.assert_each_scenario_ran_in_a_clock_of_its_own(case, suite, seen)

    def test_generated_scenarios_each_run_in_a_clock_of_their_own(self):
        seen = []
        case = scenario_case(seen)
        suite = unittest.TestSuite(
            testscenarios.generate_scenarios(case('test_sleeps')))
        virtual_time.apply_clock(suite)
        self.assert_each_scenario_ran_in_a_clock_of_its_own(case, suite, seen)

    def test_copy_of_a_wrapped_test_runs_in_a_clock_of_its_own(self):
        set_up_on = []
        case = copied_case(set_up_on)
        original = case('test_waits_an_hour')
        virtual_time.with_clock(original)
        copied = copy.copy(original)
        result = testtools.TestResult()
        copied.run(result)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual(1, len(set_up_on))
        self.assertIs(copied, set_up_on[0])
        self.assertIsNone(clock.active_bubble())
        original.run(result)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual(2, len(set_up_on))
        self.assertIs(original, set_up_on[1])
        self.assertIsNot(copied.clock, original.clock)
        self.assertIsNone(clock.active_bubble())

    def test_wrapping_keeps_the_id_and_the_class_name(self):
        case = copied_case([])
        test = case('test_waits_an_hour')
        before = test.id()
        virtual_time.with_clock(test)
        self.assertEqual(before, test.id())
        self.assertIsNot(case, type(test))
        self.assertIsInstance(test, case)
        self.assertEqual(case.__qualname__, type(test).__qualname__)
        self.assertEqual(case.__module__, type(test).__module__)

    def test_wrapping_twice_does_not_nest_the_clocks(self):
        case = unaware_case()
        test = case('test_waits_an_hour')
        virtual_time.with_clock(test)
        wrapped = type(test)
        virtual_time.with_clock(test)
        virtual_time.apply_clock(unittest.TestSuite([test]))
        self.assertIs(wrapped, type(test))
        result = unittest.TestResult()
        test.run(result)
        self.assertEqual([], result.errors + result.failures)
        self.assertIsNone(clock.active_bubble())

    def test_tests_of_one_class_share_one_wrapping_class(self):
        case = unaware_case()
        suite = unittest.TestSuite(
            [case('test_waits_an_hour'), case('test_reads_real_time')])
        virtual_time.apply_clock(suite, max_virtual=7200)
        first, second = suite
        self.assertIs(type(first), type(second))

    def test_wrapping_again_with_another_factory_is_refused(self):
        case = unaware_case()
        test = case('test_waits_an_hour')
        virtual_time.with_clock(test)
        error = self.assertRaises(
            ValueError, virtual_time.wrap_test, test,
            lambda: [deadlock.DeadlockFixture()])
        self.assertTrue(str(error).startswith(
            f'{test.id()} is already wrapped with '))
        self.assertTrue(str(error).endswith(
            '; give one factory that returns all the fixtures'))

    def test_what_is_no_test_case_is_left_alone(self):

        class NotACase:

            def id(self):
                return 'not.a.case'

            def __call__(self, result):
                pass

        not_a_case = NotACase()
        virtual_time.apply_clock(unittest.TestSuite([not_a_case]))
        virtual_time.wrap_test(not_a_case, lambda: [])
        self.assertIs(NotACase, type(not_a_case))


class TestRealTime(testtools.TestCase):

    def test_a_marked_method_runs_on_real_time(self):

        class Marked(unittest.TestCase):

            @virtual_time.real_time
            def test_reads_real_time(self):
                self.assertIsNone(clock.active_bubble())

            def test_waits_an_hour(self):
                time.sleep(3600)  # allow-sleep: virtual time
                self.assertIsNotNone(clock.active_bubble())

        real = Marked('test_reads_real_time')
        virtual = Marked('test_waits_an_hour')
        suite = virtual_time.apply_clock(unittest.TestSuite([real, virtual]))
        self.assertIs(Marked, type(real))
        self.assertIsNot(Marked, type(virtual))
        result = unittest.TestResult()
        suite.run(result)
        self.assertEqual([], result.errors + result.failures)
        self.assertEqual(2, result.testsRun)

    def test_a_marked_class_runs_on_real_time(self):

        @virtual_time.real_time
        class Marked(unittest.TestCase):

            def test_reads_real_time(self):
                self.assertIsNone(clock.active_bubble())

        class Subclass(Marked):
            pass

        tests = [Marked('test_reads_real_time'),
                 Subclass('test_reads_real_time')]
        suite = virtual_time.apply_fixtures(
            unittest.TestSuite(tests), lambda: [clock.ClockFixture()])
        virtual_time.with_clock(tests[0])
        self.assertEqual([Marked, Subclass], [type(t) for t in tests])
        result = unittest.TestResult()
        suite.run(result)
        self.assertEqual([], result.errors + result.failures)

    def test_real_time_returns_what_it_marks(self):
        def test_something():
            pass
        self.assertIs(test_something, virtual_time.real_time(test_something))


class TestAlreadyActive(testtools.TestCase):

    def open_clock_here(self):
        fixture = clock.ClockFixture()
        self.addCleanup(fixture.cleanUp)
        self.opened_on_line = sys._getframe().f_lineno + 1
        fixture.setUp()

    def open_deadlock_fixture_here(self):
        fixture = deadlock.DeadlockFixture()
        self.addCleanup(fixture.cleanUp)
        self.opened_on_line = sys._getframe().f_lineno + 1
        fixture.setUp()

    def test_second_clock_names_the_test_and_where_the_first_was_set_up(self):
        self.open_clock_here()
        error = self.assertRaises(Exception, clock.ClockFixture().setUp)
        first = error.args[0][1]
        self.assertIsInstance(first, clock.ClockError)
        lines = str(first).splitlines()
        self.assertEqual(
            "a ClockFixture is already active in this process; clocks don't "
            f"nest. The active one was set up by {self.id()} at:", lines[0])
        self.assertEqual(
            f'    {HERE}:{self.opened_on_line} in open_clock_here: '
            f'fixture.setUp()', lines[-1])
        self.assertTrue(lines[-2].endswith(
            ' in test_second_clock_names_the_test_and_where_the_first_was_'
            'set_up: self.open_clock_here()'), lines[-2])

    def test_second_deadlock_fixture_names_the_test_and_where(self):
        self.open_deadlock_fixture_here()
        error = self.assertRaises(Exception,
                                  deadlock.DeadlockFixture().setUp)
        first = error.args[0][1]
        self.assertIsInstance(first, deadlock.DeadlockError)
        lines = str(first).splitlines()
        self.assertEqual(
            "a DeadlockFixture is already active; they don't nest. The "
            f"active one was set up by {self.id()} at:", lines[0])
        self.assertEqual(
            f'    {HERE}:{self.opened_on_line} in '
            f'open_deadlock_fixture_here: fixture.setUp()', lines[-1])

    def test_a_clock_a_wrapped_test_left_open_names_that_test(self):
        leaked = []

        class Leaky(unittest.TestCase):

            def test_leaks_its_clock(self):
                # NOTE(test): its cleanups, the clock's among them, are
                # taken away, to be run by the outer test.
                leaked.extend(self._cleanups)
                self._cleanups[:] = []

        test = Leaky('test_leaks_its_clock')
        virtual_time.with_clock(test)
        test.run(unittest.TestResult())
        self.assertIsNotNone(clock.active_bubble())
        for function, args, kwargs in leaked:
            self.addCleanup(function, *args, **kwargs)
        error = self.assertRaises(Exception, clock.ClockFixture().setUp)
        self.assertEqual(
            "a ClockFixture is already active in this process; clocks don't "
            f"nest. The active one was set up by {test.id()} at:",
            str(error.args[0][1]).splitlines()[0])

    def test_with_no_test_among_the_callers_it_says_where_only(self):
        gate = threading.Lock()
        gate.acquire()
        opened = threading.Event()
        where = []

        def open_clock_in_a_thread():
            where.append(sys._getframe().f_lineno + 1)
            with clock.ClockFixture():
                opened.set()
                gate.acquire()

        thread = threading.Thread(target=open_clock_in_a_thread)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(gate.release)
        self.assertTrue(opened.wait(10))
        error = self.assertRaises(Exception, clock.ClockFixture().setUp)
        lines = str(error.args[0][1]).splitlines()
        self.assertEqual(
            "a ClockFixture is already active in this process; clocks don't "
            "nest. The active one was set up at:", lines[0])
        self.assertEqual(
            f'    {HERE}:{where[0]} in open_clock_in_a_thread: '
            f'with clock.ClockFixture():', lines[-1])


class TestApplyClockWithDeadlocks(testtools.TestCase):

    def test_deadlocks_adds_the_detector_after_the_clock(self):
        seen = []

        class Case(testtools.TestCase):
            def test_it(self):
                seen.append((clock.active_bubble() is not None,
                             clock.active_bubble().detect))

        suite = unittest.TestSuite([Case('test_it'), Case('test_it')])
        virtual_time.apply_clock(suite, deadlocks=True)
        result = testtools.TestResult()
        suite.run(result)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual([(True, True), (True, True)], seen)
        self.assertIsNone(clock.active_bubble())

    def test_without_deadlocks_only_the_clock(self):
        seen = []

        class Case(testtools.TestCase):
            def test_it(self):
                seen.append(clock.active_bubble().detect)

        suite = unittest.TestSuite([Case('test_it')])
        virtual_time.apply_clock(suite)
        result = testtools.TestResult()
        suite.run(result)
        self.assertTrue(result.wasSuccessful())
        self.assertEqual([False], seen)
