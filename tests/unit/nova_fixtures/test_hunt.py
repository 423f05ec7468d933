"""python -m nova_fixtures.hunt, in child processes."""

import io
import json
import os
import re
import select
import subprocess
import sys

import fixtures
import testtools

from nova_fixtures import hunt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SUBJECTS = 'tests.unit.nova_fixtures.hunt_subjects'
PYTEST_SUBJECT = ('tests/unit/nova_fixtures/hunt_pytest_subject.py::'
                  'test_every_bump_counts[2]')
RUN_SUITE = os.path.join(ROOT, 'tests', 'run_suite')
DUPLICATE = 'examples.gallery.bugs.TestDuplicateName.test_one_name_one_server'


class HuntTestCase(testtools.TestCase):
    """Runs ``python -m nova_fixtures.hunt`` in a child process."""

    def setUp(self):
        super().setUp()
        self.traces = self.useFixture(fixtures.TempDir()).path

    def hunt(self, *args, cwd=ROOT, **kwargs):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('NOVA_FIXTURES_')}
        env.pop('PYTHONHASHSEED', None)
        env.update(kwargs.pop('env', {}))
        done = subprocess.run(
            [sys.executable, '-m', 'nova_fixtures.hunt', *args,
             '--trace-dir', self.traces, '--jobs', '2'],
            cwd=cwd, env=env, timeout=300, capture_output=True, text=True,
            **kwargs)
        self.addDetail(f'hunt {len(self.getDetails())}',
                       testtools.content.text_content(
                           done.stdout + done.stderr))
        return done


class TestHunt(HuntTestCase):

    def test_finds_replays_and_shrinks_a_seeded_bug(self):
        done = self.hunt(DUPLICATE, '--runs', '60')
        self.assertEqual(1, done.returncode)
        found = re.search(r'fails under seed (\d+) \(pct, depth 3, (\d+) '
                          r'steps\): schedule (pct-d3-k\d+-\d+)\n',
                          done.stdout)
        self.assertIsNotNone(found)
        seed, steps, token = found.groups()
        self.assertEqual(f'pct-d3-k{steps}-{seed}', token)
        self.assertIn('the name "web" was given to 2 servers', done.stdout)
        self.assertIn(f'schedule {token}: ', done.stdout)
        self.assertIn('replay: exact', done.stdout)
        command = (f'PYTHONHASHSEED=0 python -m nova_fixtures.hunt '
                   f'{DUPLICATE} --replay {token}')
        self.assertIn(command, done.stdout)
        fingerprint = re.search(r'trace ([0-9a-f]{16}), journal '
                                r'([0-9a-f]{16})', done.stdout).groups()
        shrunk = re.search(r'shrunk from (\d+) to (\d+) decision',
                           done.stdout)
        self.assertIsNotNone(shrunk)
        self.assertLessEqual(int(shrunk.group(2)), int(shrunk.group(1)))
        self.assertIn('hunt: ', done.stderr)   # the progress line

        again = self.hunt(DUPLICATE, '--replay', token)
        self.assertEqual(1, again.returncode)
        self.assertIn('checking the run against', again.stdout)
        self.assertIn('the name "web" was given to 2 servers',
                      again.stdout)
        self.assertEqual(fingerprint, re.search(
            r'trace ([0-9a-f]{16}), journal ([0-9a-f]{16})',
            again.stdout).groups())
        self.assertIn('replay: exact', again.stdout)

        # NOTE(test_hunt): a bare seed replays the schedule the hunt
        # recorded for it, and says so; with other options, it says it
        # replays another schedule.
        bare = self.hunt(DUPLICATE, '--replay', seed)
        self.assertIn(f'seed {seed}: replaying {token}, the schedule the '
                      f'hunt recorded for it', bare.stdout)
        self.assertIn(f'schedule {token}: ', bare.stdout)
        other = self.hunt(DUPLICATE, '--replay', seed, '--steps', '7')
        self.assertIn(f'note: the hunt recorded seed {seed} as {token}; '
                      f'this replays pct-d3-k7-{seed}, another schedule',
                      other.stdout)
        self.assertIn(f'schedule pct-d3-k7-{seed}: ', other.stdout)

        path = [os.path.join(self.traces, n) for n in os.listdir(self.traces)
                if n.endswith('.shrunk.json')][0]
        self.assertIn(f'{DUPLICATE} --replay {token} --forced {path}',
                      done.stdout)
        forced = self.hunt(DUPLICATE, '--replay', token, '--forced', path)
        self.assertEqual(1, forced.returncode)
        self.assertIn('the name "web" was given to 2 servers',
                      forced.stdout)

    def test_a_replay_that_leaves_the_recording_says_where(self):
        done = self.hunt(DUPLICATE, '--runs', '60', '--no-shrink')
        seed, steps = re.search(r'under seed (\d+) \(pct, depth 3, (\d+) ',
                                done.stdout).groups()
        [name] = os.listdir(self.traces)
        path = os.path.join(self.traces, name)
        with open(path) as f:
            trace = json.load(f)
        trace[5][3] = 99    # the recording picked another thread there
        with open(path, 'w') as f:
            json.dump(trace, f)
        again = self.hunt(DUPLICATE, '--replay', f'pct-d3-k{steps}-{seed}')
        self.assertIn('the replay diverged at step 6: recorded ',
                      again.stdout)

    def test_no_failure(self):
        done = self.hunt(f'{SUBJECTS}.TestSubjects.test_passes', '--runs',
                         '6')
        self.assertEqual(0, done.returncode)
        self.assertIn('hunt: no failure in 6 seeds', done.stderr)

    def test_a_test_without_a_clock_gets_one(self):
        done = self.hunt(f'{SUBJECTS}.TestPlain.test_runs_on_a_clock',
                         '--runs', '3', '--strategy', 'random')
        self.assertEqual(0, done.returncode, done.stdout)
        self.assertIn('hunt: no failure in 3 seeds (random)', done.stderr)

    def test_a_hang_is_reported_with_its_seed(self):
        done = self.hunt(f'{SUBJECTS}.TestSubjects.test_spins', '--runs',
                         '3', '--timeout', '2', '--steps', '10')
        self.assertEqual(1, done.returncode)
        self.assertRegex(done.stdout, r'test_spins hangs under seed \d ')
        self.assertIn('still running after 2 s of real time', done.stdout)

    def test_bad_input(self):
        done = self.hunt('nope.Nope.test_nothing')
        self.assertEqual(2, done.returncode)
        self.assertEqual("hunt: no test 'nope.Nope.test_nothing': "
                         "ModuleNotFoundError: No module named 'nope'",
                         done.stderr.strip())
        done = self.hunt(f'{SUBJECTS}.TestSubjects')
        self.assertEqual(2, done.returncode)
        self.assertIn(f"hunt: '{SUBJECTS}.TestSubjects' names 2 tests; give "
                      f"the id of one", done.stderr)
        done = self.hunt(DUPLICATE, '--forced', 'x.json')
        self.assertEqual(2, done.returncode)
        self.assertIn('--forced needs --replay SEED', done.stderr)
        done = self.hunt(f'{SUBJECTS}.a_function')
        self.assertEqual(2, done.returncode)
        self.assertEqual(
            f"hunt: no test '{SUBJECTS}.a_function': it names a function, "
            f"not a unittest test; for a pytest test give its node id "
            f"(tests/unit/nova_fixtures/hunt_subjects.py::a_function)",
            done.stderr.strip())

    def test_a_forced_file_that_is_not_one(self):
        path = os.path.join(self.traces, 'bad.shrunk.json')
        with open(path, 'w') as f:
            json.dump({'[0, "acquire"]': 1}, f)
        done = self.hunt(DUPLICATE, '--replay', '1', '--forced', path)
        self.assertEqual(2, done.returncode)
        self.assertEqual(
            f"""python -m nova_fixtures.hunt: error: --forced {path}: """
            f"""forced decision '[0, "acquire"]': the key is not [tid, """
            f"""kind, what, n]""", done.stderr.strip().splitlines()[-1])

    def test_a_forced_file_that_is_missing_or_not_json(self):
        missing = os.path.join(self.traces, 'missing.json')
        bad = os.path.join(self.traces, 'bad.json')
        with open(bad, 'w') as f:
            f.write('{"not json')
        thread = os.path.join(self.traces, 'thread.json')
        with open(thread, 'w') as f:
            json.dump({'[0, "acquire", "x", 1]': '1'}, f)
        for path, why in [
                (missing, "[Errno 2] No such file or directory: "
                          f"'{missing}'"),
                (bad, 'Unterminated string starting at: line 1 column 2 '
                      '(char 1)'),
                (thread, """forced decision '[0, "acquire", "x", 1]': '1' """
                         """is not a thread number""")]:
            done = self.hunt(DUPLICATE, '--replay', '1', '--forced', path)
            self.assertEqual(2, done.returncode, path)
            self.assertEqual(
                f'python -m nova_fixtures.hunt: error: --forced {path}: '
                f'{why}', done.stderr.strip().splitlines()[-1])
            self.assertEqual('', done.stdout)

    def test_option_bounds(self):
        for args, text in [
                (['--depth', '0'],
                 '--depth must be a whole number >= 1, got 0'),
                (['--depth', '10000000'],
                 '--depth must be a whole number from 1 to 100, got '
                 '10000000'),
                (['--steps', '0'],
                 '--steps must be a whole number >= 1, got 0'),
                (['--replay', '-1'],
                 "--replay: schedule '-1' is neither a seed nor a schedule "
                 "token: write a whole number >= 0 (4) or a token the hunt "
                 "printed (pct-d3-k16-4, random-4)"),
                (['--replay', 'pct-d0-k16-4'],
                 '--replay: depth must be a whole number >= 1, got 0'),
                (['--replay', 'pct-d3-k16-4', '--depth', '4'],
                 "--replay: schedule 'pct-d3-k16-4' names its depth (3); "
                 "depth=4 asks for another schedule: give one or the "
                 "other"),
                (['--timeout', 'nan'],
                 '--timeout must be a number of seconds > 0, got nan'),
                (['--time', 'nan'],
                 '--time must be a number of seconds > 0, got nan'),
                (['--timeout', 'inf'],
                 '--timeout must be a number of seconds > 0, got inf'),
                (['--time', '-1'],
                 '--time must be a number of seconds > 0, got -1.0'),
                (['--shard', '3/2'], "argument --shard: '3/2': I must be "
                                     "from 1 to N (2)"),
                (['--shard', '1'], "argument --shard: '1' is not I/N "
                                   "(this job's number from 1 to N, and N "
                                   "jobs)"),
                (['--adapter', 'nope'],
                 "no adapter 'nope' in nova_fixtures.adapters"),
                (['--adapter', 'no_such.adapter'],
                 "--adapter no_such.adapter: can't import it: "
                 "ModuleNotFoundError: No module named 'no_such'"),
                (['--context-handle', 'not-a-key'],
                 "context handle 'not-a-key' is not a context key (a "
                 "Python identifier)"),
                (['--trace-dir', '/proc/version/x'],
                 "--trace-dir /proc/version/x: can't write there: Not a "
                 "directory")]:
            stderr = io.StringIO()
            self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
            error = self.assertRaises(SystemExit, hunt.main,
                                      [DUPLICATE, *args])
            self.assertEqual(2, error.code)
            self.assertIn(f'error: {text}\n', stderr.getvalue())

    def test_replay_command_quotes_what_it_must(self):
        args = hunt.parser().parse_args(["a.b.T.test_x", '--steps', '5'])
        self.assertEqual(
            'PYTHONHASHSEED=0 python -m nova_fixtures.hunt a.b.T.test_x '
            '--replay pct-d3-k5-9',
            hunt.replay_command(args, 9))
        args = hunt.parser().parse_args([
            "t/test_x.py::test_y[a b]", '--strategy', 'random', '--adapter',
            'nova', '--transport', 'memory', '--deadlocks',
            '--context-handle', 'db'])
        self.assertEqual(
            "PYTHONHASHSEED=0 python -m nova_fixtures.hunt "
            "'t/test_x.py::test_y[a b]' --transport memory --deadlocks "
            "--adapter nova --context-handle db --replay random-9",
            hunt.replay_command(args, 9))


class TestHuntLoading(HuntTestCase):

    def test_loads_the_test_as_the_run_entry_point_does(self):
        # NOTE(test_hunt): check_hunt refuses to import after this
        # library, and asserts the clock, schedule, detector, memory://
        # redirect and context handle the options give it.
        done = self.hunt('check_hunt.TestLoaded.'
                         'test_as_the_run_entry_point_would', '--runs', '3',
                         '--transport', 'memory', '--deadlocks',
                         '--context-handle', 'db_connection', cwd=RUN_SUITE)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)
        self.assertIn('hunt: no failure in 3 seeds', done.stderr)

    def test_a_hung_run_is_killed_with_its_child_processes(self):
        read, write = os.pipe()
        self.addCleanup(os.close, read)
        try:
            done = self.hunt(
                f'{SUBJECTS}.TestLeavesAProcess.'
                f'test_hangs_with_a_child_process', '--runs', '1',
                '--timeout', '2', '--steps', '10',
                env={'HUNT_SUBJECT_FD': str(write)}, pass_fds=(write,))
        finally:
            os.close(write)
        self.assertEqual(1, done.returncode)
        self.assertIn('still running after 2 s of real time', done.stdout)
        # NOTE(test_hunt): end-of-file once the last holder of the write
        # end (the run's `sleep 600`) is gone; 60 s only bounds a failure.
        ready, _, _ = select.select([read], [], [], 60)
        self.assertEqual([read], ready)
        self.assertEqual(b'', os.read(read, 1))

    def test_shards_split_the_seeds(self):
        args = hunt.parser().parse_args([DUPLICATE, '--runs', '10',
                                         '--shard', '2/3'])
        self.assertEqual([2, 5, 8], list(hunt._shard_seeds(args)))
        shards = [hunt._shard_seeds(hunt.parser().parse_args(
            [DUPLICATE, '--runs', '10', '--shard', f'{i}/3']))
            for i in (1, 2, 3)]
        self.assertEqual(list(range(1, 11)),
                         sorted(s for shard in shards for s in shard))
        done = self.hunt(f'{SUBJECTS}.TestSubjects.test_passes', '--runs',
                         '6', '--shard', '2/3')
        self.assertEqual(0, done.returncode)
        self.assertIn('hunt: shard 2/3: no failure in 2 seeds',
                      done.stderr)


class TestHuntPytest(HuntTestCase):

    def test_finds_replays_and_shrinks_a_race_in_a_pytest_test(self):
        done = self.hunt(PYTEST_SUBJECT, '--runs', '60')
        self.assertEqual(1, done.returncode, done.stdout + done.stderr)
        token = re.search(r'fails under seed \d+ \(pct, depth 3, \d+ '
                          r'steps\): schedule (pct-d3-k\d+-\d+)\n',
                          done.stdout).group(1)
        self.assertIn("\nAssertionError: assert 1 == 2\n", done.stdout)
        self.assertIn(f"PYTHONHASHSEED=0 python -m nova_fixtures.hunt "
                      f"'{PYTEST_SUBJECT}' --replay {token}", done.stdout)
        self.assertIn(f"or in pytest, with PYTHONHASHSEED=0: mark the test "
                      f"@pytest.mark.nova_schedule(seed='{token}')",
                      done.stdout)
        self.assertRegex(done.stdout, r'shrunk from \d+ to \d+ decision')
        fingerprint = re.search(r'trace ([0-9a-f]{16}), journal',
                                done.stdout).group(1)

        again = self.hunt(PYTEST_SUBJECT, '--replay', token)
        self.assertEqual(1, again.returncode)
        self.assertIn('checking the run against', again.stdout)
        self.assertIn('AssertionError: assert 1 == 2', again.stdout)
        self.assertIn(f'schedule {token}: ', again.stdout)
        self.assertIn(f'trace {fingerprint}, journal', again.stdout)
        self.assertIn('replay: exact', again.stdout)

    def test_a_node_id_that_names_no_test(self):
        done = self.hunt('tests/unit/nova_fixtures/hunt_pytest_subject.py'
                         '::test_nothing')
        self.assertEqual(2, done.returncode)
        self.assertEqual(
            f"hunt: no test 'tests/unit/nova_fixtures/hunt_pytest_subject."
            f"py::test_nothing': pytest says: ERROR: not found: {ROOT}/tests"
            f"/unit/nova_fixtures/hunt_pytest_subject.py::test_nothing (no "
            f"match in any of [<Module hunt_pytest_subject.py>])",
            done.stderr.strip())
