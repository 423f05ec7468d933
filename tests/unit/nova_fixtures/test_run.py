"""python -m nova_fixtures.run: a suite run unedited, in a child process."""

import io
import os
import re
import subprocess
import sys

import fixtures
import testtools

from nova_fixtures import run

# NOTE(test_run): a directory outside the tests package, whose __init__
# imports fake_transport; the suite there checks nothing was imported first.
SUITE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'run_suite')
SUITE = ['check_unedited', 'check_outside']


def run_in_child(test, options, modules, extra_env=None):
    """``python -m nova_fixtures.run <options> -- python -m testtools.run
    <modules>`` in SUITE_DIR, with no NOVA_FIXTURES_* variable of ours;
    its output becomes ``test``'s detail."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('NOVA_FIXTURES_')}
    env.update(extra_env or {})
    command = [sys.executable, '-m', 'nova_fixtures.run', *options,
               '--', sys.executable, '-m', 'testtools.run', *modules]
    done = subprocess.run(command, cwd=SUITE_DIR, env=env, timeout=120,
                          capture_output=True, text=True)
    test.addDetail('child-output', testtools.content.text_content(
        done.stdout + done.stderr))
    return done


class TestRunASuite(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # NOTE(test_run): a sitecustomize of the machine's own, which the
        # hook shadows and must still run.
        self.shadowed = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(self.shadowed, 'sitecustomize.py'), 'w') as f:
            f.write('SHADOWED = True\n')

    def run_suite(self, options, extra_env=None):
        return run_in_child(self, options, SUITE,
                            dict(extra_env or {}, PYTHONPATH=self.shadowed))

    def assert_all_passed(self, done):
        self.assertEqual(0, done.returncode)
        lines = done.stdout.strip().splitlines()
        self.assertIn('Ran 7 tests', '\n'.join(lines))
        self.assertEqual('OK', lines[-1])

    def test_options_on_the_command_line(self):
        self.assert_all_passed(self.run_suite([
            '--transport', 'memory', '--clock',
            '--tests', 'check_unedited',
            '--exclude', r'\.TestNeedsRealTime\.',
            '--context-handle', 'db_connection']))

    def test_options_from_the_environment(self):
        self.assert_all_passed(self.run_suite([], {
            'NOVA_FIXTURES_TRANSPORT': 'memory',
            'NOVA_FIXTURES_CLOCK': 'yes',
            'NOVA_FIXTURES_TESTS': 'check_unedited',
            'NOVA_FIXTURES_EXCLUDE': r'\.TestNeedsRealTime\.',
            'NOVA_FIXTURES_CONTEXT_HANDLES': 'db_connection'}))

    def test_a_schedule_reaches_the_tests(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('NOVA_FIXTURES_')}
        command = [sys.executable, '-m', 'nova_fixtures.run', '--schedule',
                   '12', '--schedule-strategy', 'pct', '--',
                   sys.executable, '-m', 'testtools.run', 'check_schedule']
        done = subprocess.run(command, cwd=SUITE_DIR, env=env, timeout=120,
                              capture_output=True, text=True)
        self.addDetail('child-output', testtools.content.text_content(
            done.stdout + done.stderr))
        self.assertEqual(0, done.returncode)
        self.assertIn('Ran 1 test', done.stdout)
        self.assertNotIn('skip', done.stdout.lower())

    def test_without_the_redirect_the_suite_fails_as_it_should(self):
        # NOTE(test_run): the suite asserts what the run changes; without
        # --transport its fake: transports stay fake, and the scenarios'
        # memory:// checks fail.
        done = self.run_suite(['--clock',
                               '--tests', 'check_unedited',
                               '--exclude', r'\.TestNeedsRealTime\.'])
        self.assertEqual(1, done.returncode)
        self.assertIn("MismatchError: 'MemoryDriver' != 'FakeDriver'",
                      done.stderr + done.stdout)


class TestBadInput(testtools.TestCase):

    def main(self, argv, env=None):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        for key in [k for k in os.environ if k.startswith('NOVA_FIXTURES_')]:
            self.useFixture(fixtures.EnvironmentVariable(key))
        for key, value in (env or {}).items():
            self.useFixture(fixtures.EnvironmentVariable(key, value))
        error = self.assertRaises(SystemExit, run.main, argv)
        self.assertEqual(2, error.code)
        return stderr.getvalue().strip().splitlines()[-1]

    def test_no_command(self):
        self.assertEqual(
            'python -m nova_fixtures.run: error: no command to run: write '
            'it after --, as in "python -m nova_fixtures.run --clock -- '
            'stestr run"', self.main(['--clock']))

    def test_a_bad_regex(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: exclude '(' is not a "
            "regular expression: missing ), unterminated subpattern at "
            "position 0", self.main(['--exclude', '(', '--', 'true']))

    def test_an_unknown_adapter(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: no adapter 'glance' in "
            "nova_fixtures.adapters",
            self.main(['--adapter', 'glance', '--', 'true']))

    def test_an_unknown_transport(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: argument --transport: "
            "invalid choice: 'rabbit' (choose from 'memory')",
            self.main(['--transport', 'rabbit', '--', 'true']))

    def test_a_flag_that_is_not_a_flag(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: NOVA_FIXTURES_CLOCK="
            "'maybe': write 1 or 0 (or true, false, yes, no)",
            self.main(['--', 'true'], {'NOVA_FIXTURES_CLOCK': 'maybe'}))

    def test_a_schedule_seed_that_is_no_seed(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: schedule 'x' is neither a "
            "seed nor a schedule token: write a whole number >= 0 (4) or a "
            "token the hunt printed (pct-d3-k16-4, random-4)",
            self.main(['--', 'true'], {'NOVA_FIXTURES_SCHEDULE': 'x'}))
        self.assertEqual(
            "python -m nova_fixtures.run: error: depth must be a whole "
            "number from 1 to 100, got 500",
            self.main(['--schedule', 'pct-d500-k16-4', '--', 'true']))

    def test_schedule_settings_are_checked_before_the_command_starts(self):
        for env, text in [
                ({'NOVA_FIXTURES_SCHEDULE_DEPTH': 'abc'},
                 "NOVA_FIXTURES_SCHEDULE_DEPTH='abc': depth must be a whole "
                 "number"),
                ({'NOVA_FIXTURES_SCHEDULE_DEPTH': '0'},
                 "NOVA_FIXTURES_SCHEDULE_DEPTH='0': depth must be a whole "
                 "number >= 1, got 0"),
                ({'NOVA_FIXTURES_SCHEDULE_STEPS': '-5'},
                 "NOVA_FIXTURES_SCHEDULE_STEPS='-5': steps must be a whole "
                 "number >= 1, got -5")]:
            self.assertEqual(
                f"python -m nova_fixtures.run: error: {text}",
                self.main(['--schedule', '4', '--', 'true'], env))
        self.assertEqual(
            "python -m nova_fixtures.run: error: schedule 'random-4' names "
            "its strategy ('random'); strategy 'pct' asks for another "
            "schedule: give one or the other",
            self.main(['--schedule', 'random-4', '--schedule-strategy',
                       'pct', '--', 'true']))

    def test_a_schedule_strategy_without_a_schedule(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: --schedule-strategy picks "
            "how a schedule runs: give --schedule SEED too",
            self.main(['--schedule-strategy', 'random', '--', 'true']))

    def test_a_dotted_adapter_is_imported_before_the_command_starts(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: --adapter no_such.adapter: "
            "can't import it: ModuleNotFoundError: No module named "
            "'no_such'",
            self.main(['--adapter', 'no_such.adapter', '--', 'true']))

    def test_a_context_handle_that_is_no_key(self):
        self.assertEqual(
            "python -m nova_fixtures.run: error: context handle 'db-conn' "
            "is not a context key (a Python identifier)",
            self.main(['--context-handle', 'db-conn', '--', 'true']))

    def test_a_tests_prefix_that_matches_no_test(self):
        # NOTE(test_run): the space after the comma is not part of a
        # prefix; 'nothing_here' matches no test the command loads.
        done = run_in_child(self, ['--transport', 'memory', '--tests',
                                   'check_unedited.TestNeedsRealTime.test_'
                                   'excluded, nothing_here'],
                            ['check_unedited.TestNeedsRealTime.'
                             'test_excluded_from_the_clock_but_on_memory'])
        self.assertEqual(2, done.returncode)
        self.assertIn('Ran 1 test', done.stderr + done.stdout)
        self.assertEqual(
            "python -m nova_fixtures.run: --tests 'nothing_here' matched no "
            "test the command loaded", done.stderr.strip().splitlines()[-1])

    def test_a_command_that_does_not_exist(self):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        self.assertEqual(127, run.main(['--', '/nonexistent/command']))
        self.assertEqual(
            "python -m nova_fixtures.run: can't run '/nonexistent/command': "
            "No such file or directory", stderr.getvalue().strip())


class TestSettings(testtools.TestCase):

    def test_round_trip_through_the_environment(self):
        settings = run.RunSettings(
            transport='memory', clock=True, deadlocks=True,
            schedule='pct-d3-k16-7',
            schedule_strategy='pct',
            tests=('a.b', 'c'), exclude=(r'\.X\.', 'y$'), adapter='nova',
            context_handles=('db_connection', 'mq_connection'))
        self.assertEqual(settings,
                         run.RunSettings.from_environ(settings.environ()))


class TestFakeDifferencesReport(testtools.TestCase):
    """The end-of-run report of what tests relied on fake: doing."""

    TEST = ('check_fake_differences.TestApi.'
            'test_a_timeout_in_central_answers_504')

    def run_suite(self, options):
        return run_in_child(self, options, ['check_fake_differences'])

    def report(self, done):
        start = done.stderr.index('fake: differences: ')
        return done.stderr[start:].rstrip('\n').split('\n')

    def expected_report(self):
        return [
            "fake: differences: 1 place(s) where a test relied on the fake: "
            "driver doing what rabbit does not (with --fake-compat, "
            "NOVA_FIXTURES_FAKE_COMPAT=1, the tests get fake:'s behaviour):",
            f"  {self.TEST}: exception type: central.create_zone raised "
            f"oslo_messaging.exceptions.MessagingTimeout, which fake: raises "
            f"in the caller as it is; rabbit: the caller gets RemoteError, "
            f"oslo_messaging.exceptions not being in the transport's "
            f"allowed_remote_exmods"]

    def test_without_fake_compat_the_test_fails_and_is_listed(self):
        done = self.run_suite(['--transport', 'memory'])
        self.assertEqual(1, done.returncode)
        self.assertIn('MismatchError: 504 != 500', done.stdout)
        # NOTE(test_run): the failing test's own output names the behaviour
        # and the switch, in its detail.
        self.assertIn('fake-transport:differences: {{{\n' +
                      '\n'.join(self.expected_report()) + '\n}}}',
                      done.stdout)
        self.assertEqual(self.expected_report(), self.report(done))

    def test_with_fake_compat_the_test_passes_and_is_listed(self):
        done = self.run_suite(['--transport', 'memory', '--fake-compat'])
        self.assertEqual(0, done.returncode)
        self.assertEqual('OK', done.stdout.strip().splitlines()[-1])
        self.assertEqual(self.expected_report(), self.report(done))

    def test_fake_compat_needs_the_memory_transport(self):
        done = self.run_suite(['--fake-compat'])
        self.assertEqual(2, done.returncode)
        self.assertEqual(
            "python -m nova_fixtures.run: error: --fake-compat keeps fake:'s "
            "behaviour on the memory transport: give --transport memory too",
            done.stderr.strip().splitlines()[-1])


class TestRpcDeadlock(testtools.TestCase):
    """A cycle through RPC calls, in a suite that knows nothing of the
    library, named by ``--deadlocks`` the moment it forms."""

    def run_suite(self, options):
        done = run_in_child(self, options, ['check_rpc_deadlock'])
        # NOTE(test_run): executor threads are numbered as they start.
        return done, re.sub(r'"Thread-\d+"', '"T"', done.stdout)

    def assert_named(self, done, out):
        self.assertEqual(1, done.returncode)
        header = ('DeadlockError: deadlock: a cycle of 3 thread(s) waiting '
                  'for each other:\n')
        self.assertIn(header, out)
        edges = out[out.index(header) + len(header):].split('\n')[:3]
        cycle = [
            '  "T" waits for Collector._lock (check_rpc_deadlock.py:22), '
            'held by "T" (acquired at check_rpc_deadlock.py:25)',
            '  "T" waits for the reply to #2 call rater.rate, handled by "T"',
            '  "T" waits for the reply to #3 call collector.get_totals, '
            'handled by "T"']
        # NOTE(test_run): the report starts at the wait that closed the
        # cycle: the handler's wait for the lock, or (a worker may be told
        # it handles a call before its caller is told it waits) the
        # rater's wait for get_totals.
        self.assertIn(edges, [cycle[i:] + cycle[:i] for i in range(3)])
        self.assertNotIn('MessagingTimeout', out)

    def test_on_real_time(self):
        self.assert_named(*self.run_suite(['--transport', 'memory',
                                           '--deadlocks']))

    def test_on_the_clock(self):
        done, out = self.run_suite(['--transport', 'memory', '--clock',
                                    '--deadlocks'])
        self.assert_named(done, out)
