"""python -m nova_fixtures.hunt, in child processes."""

import io
import json
import os
import re
import subprocess
import sys

import fixtures
import testtools

from nova_fixtures import hunt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SUBJECTS = 'tests.unit.nova_fixtures.hunt_subjects'
DUPLICATE = 'examples.gallery.bugs.TestDuplicateName.test_one_name_one_server'


class TestHunt(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.traces = self.useFixture(fixtures.TempDir()).path

    def hunt(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('NOVA_FIXTURES_')}
        env.pop('PYTHONHASHSEED', None)
        done = subprocess.run(
            [sys.executable, '-m', 'nova_fixtures.hunt', *args,
             '--trace-dir', self.traces, '--jobs', '2'],
            cwd=ROOT, env=env, timeout=300, capture_output=True, text=True)
        self.addDetail(f'hunt {len(self.getDetails())}',
                       testtools.content.text_content(
                           done.stdout + done.stderr))
        return done

    def test_finds_replays_and_shrinks_a_seeded_bug(self):
        done = self.hunt(DUPLICATE, '--runs', '60')
        self.assertEqual(1, done.returncode)
        found = re.search(r'fails under seed (\d+) \(pct, depth 3, (\d+) '
                          r'steps\)', done.stdout)
        self.assertIsNotNone(found)
        seed, steps = found.groups()
        self.assertIn('the name "web" was given to 2 servers', done.stdout)
        self.assertIn('replay: exact', done.stdout)
        command = (f'PYTHONHASHSEED=0 python -m nova_fixtures.hunt '
                   f'{DUPLICATE} --strategy pct --depth 3 --steps {steps} '
                   f'--replay {seed}')
        self.assertIn(command, done.stdout)
        fingerprint = re.search(r'trace ([0-9a-f]{16}), journal '
                                r'([0-9a-f]{16})', done.stdout).groups()
        shrunk = re.search(r'shrunk from (\d+) to (\d+) decision',
                           done.stdout)
        self.assertIsNotNone(shrunk)
        self.assertLessEqual(int(shrunk.group(2)), int(shrunk.group(1)))
        self.assertIn('hunt: ', done.stderr)   # the progress line

        again = self.hunt(DUPLICATE, '--strategy', 'pct', '--steps', steps,
                          '--replay', seed)
        self.assertEqual(1, again.returncode)
        self.assertIn('checking the run against', again.stdout)
        self.assertIn('the name "web" was given to 2 servers',
                      again.stdout)
        self.assertEqual(fingerprint, re.search(
            r'trace ([0-9a-f]{16}), journal ([0-9a-f]{16})',
            again.stdout).groups())
        self.assertIn('replay: exact', again.stdout)

        path = [os.path.join(self.traces, n) for n in os.listdir(self.traces)
                if n.endswith('.shrunk.json')][0]
        forced = self.hunt(DUPLICATE, '--replay', seed, '--forced', path)
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
        again = self.hunt(DUPLICATE, '--strategy', 'pct', '--steps', steps,
                          '--replay', seed)
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

    def test_a_forced_file_that_is_not_one(self):
        path = os.path.join(self.traces, 'bad.shrunk.json')
        with open(path, 'w') as f:
            json.dump({'[0, "acquire"]': 1}, f)
        done = self.hunt(DUPLICATE, '--replay', '1', '--forced', path)
        self.assertEqual(2, done.returncode)
        self.assertEqual(
            f"""hunt: {path}: forced decision '[0, "acquire"]': the key is """
            f"""not [tid, kind, what, n]""", done.stderr.strip())

    def test_option_bounds(self):
        for args, text in [(['--depth', '0'], '--depth must be >= 1, got 0'),
                           (['--steps', '0'], '--steps must be >= 1, got 0'),
                           (['--replay', '-1'],
                            '--replay must be a seed >= 0, got -1')]:
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
            '--strategy pct --depth 3 --steps 5 --replay 9',
            hunt.replay_command(args, 9))
