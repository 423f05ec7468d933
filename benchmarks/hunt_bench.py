"""Hunting the gallery's seeded bugs against running them plainly.

For each test of ``examples/gallery/bugs.py``, in one run:

* plain: how many plain runs (the test as written, on the clock, the OS
  picking which thread runs) until it first fails, up to ``--plain-max``
  (2,000), in each of ``--trials`` (5) trials; the median;
* hunting: which seed first fails it (seeds 1, 2, ...; at most 200), per
  strategy (PCT with a probe run counting its steps, and the random walk),
  and how many of the 200 fail;
* replay: the seed PCT found, replayed ``--replays`` (20) times, each in a
  new process (``python -m nova_fixtures.hunt ... --replay SEED``): the
  same outcome, decision trace and message journal every time?
* overhead: the example suite run plainly and on a schedule
  (``NOVA_FIXTURES_SCHEDULE``), alternately, ``--overhead-runs`` times
  each, in one process: the median wall time of each.

Targets (issue 13): hunting at least 50x sooner than plain runs, each bug
found within 200 seeds, 20 of 20 replays identical, the schedule at most
3x the plain wall time of the example suite.

Usage: ``python benchmarks/hunt_bench.py [--trials 5] [--plain-max 2000]
[--replays 20] [--jobs 2]`` (``tox -e hunt-bench``; about 15 minutes).
"""

import argparse
import functools
import os
import re
import statistics
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from nova_fixtures import hunt  # noqa: E402
from nova_fixtures import schedule  # noqa: E402

BUGS = [
    'examples.gallery.bugs.TestResizeDeadlock.'
    'test_confirm_and_update_both_finish',
    'examples.gallery.bugs.TestLostWakeup.test_waiter_sees_the_build',
    'examples.gallery.bugs.TestDuplicateName.test_one_name_one_server',
    'examples.gallery.bugs.TestStaleReport.'
    'test_scheduler_sees_a_full_compute',
]
SEEDS = 200


def run_plain(test_id):
    test = hunt.load(test_id)
    result = unittest.TestResult()
    test.run(result)
    return result.wasSuccessful()


def plain_trial(test_id, limit):
    """Runs until the first failure (its number), or ``limit`` if none."""
    for n in range(1, limit + 1):
        if not run_plain(test_id):
            return n
    return limit


def hunt_seeds(test_id, strategy, jobs):
    """(first failing seed or None, failures in SEEDS seeds, steps): each
    seed in a process forked from this one, as the hunt runs them."""
    runner = hunt.Runner(jobs, timeout=120)
    try:
        steps = 2000
        if strategy == 'pct':
            probe = runner.run('probe', hunt.scheduled_run(test_id,
                                                           {'seed': 0}))
            steps = max(probe['schedule']['choices'], 1)
        work = ((seed, hunt.scheduled_run(test_id, {
            'seed': seed, 'strategy': strategy, 'steps': steps}))
            for seed in range(1, SEEDS + 1))
        failing = sorted(seed for seed, record in runner.each(work)
                         if record['outcome'] not in ('pass', 'skip'))
    finally:
        runner.stop()
    return (failing[0] if failing else None), len(failing), steps


def replays(test_id, seed, steps, count, jobs):
    """Replay ``seed`` ``count`` times in new processes: how many gave the
    same outcome, trace and journal as the first."""
    env = dict(os.environ, PYTHONHASHSEED='0')
    command = [sys.executable, '-m', 'nova_fixtures.hunt', test_id,
               '--strategy', 'pct', '--steps', str(steps), '--replay',
               str(seed), '--trace-dir', os.devnull + '-none']
    outputs = []
    procs = []
    for _ in range(count):
        procs.append(subprocess.Popen(command, cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True))
        if len(procs) >= jobs:
            outputs.append(procs.pop(0).communicate()[0])
    outputs.extend(p.communicate()[0] for p in procs)
    keys = []
    for out in outputs:
        found = re.search(r'trace ([0-9a-f]{16}), journal ([0-9a-f]{16})',
                          out)
        outcome = re.search(r'^\S+: (pass|fail|error|skip)$', out, re.M)
        exact = 'replay: exact' in out
        keys.append((found.groups() if found else None,
                     outcome.group(1) if outcome else None, exact))
    first = keys[0]
    same = sum(1 for k in keys if k == first and k[0] is not None and k[2])
    return same, first


def overhead(runs):
    """Median wall time of the example suite, plain and on a schedule."""
    def suite_time(seed):
        withdraw = schedule.request(seed=seed) if seed is not None \
            else (lambda: None)
        try:
            suite = unittest.TestLoader().discover(
                os.path.join(ROOT, 'examples'), top_level_dir=ROOT)
            result = unittest.TestResult()
            began = time.perf_counter()
            suite.run(result)
            took = time.perf_counter() - began
        finally:
            withdraw()
        return took, result.wasSuccessful(), result.testsRun

    plain, scheduled = [], []
    for n in range(runs):
        plain.append(suite_time(None))
        scheduled.append(suite_time(n + 1))
    return plain, scheduled


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trials', type=int, default=5)
    parser.add_argument('--plain-max', type=int, default=2000)
    parser.add_argument('--replays', type=int, default=20)
    parser.add_argument('--overhead-runs', type=int, default=3)
    parser.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--bugs', default='',
                        help='comma-separated substrings of the bugs to run')
    args = parser.parse_args()
    os.environ['PYTHONHASHSEED'] = os.environ.get('PYTHONHASHSEED', '0')
    os.environ.setdefault('OS_LOG_CAPTURE', '1')
    bugs = [b for b in BUGS if not args.bugs or
            any(s in b for s in args.bugs.split(','))]
    bad = False
    rows = []
    for test_id in bugs:
        name = test_id.split('.')[-2]
        began = time.monotonic()
        runner = hunt.Runner(args.jobs, timeout=24 * 3600)
        try:
            trials = [runs for _, runs in runner.each(
                (n, functools.partial(plain_trial, test_id, args.plain_max))
                for n in range(args.trials))]
        finally:
            runner.stop()
        plain_median = statistics.median(trials)
        pct_seed, pct_fails, steps = hunt_seeds(test_id, 'pct', args.jobs)
        rnd_seed, rnd_fails, _ = hunt_seeds(test_id, 'random', args.jobs)
        same, first = (replays(test_id, pct_seed, steps, args.replays,
                               args.jobs) if pct_seed else (0, None))
        ratio = plain_median / pct_seed if pct_seed else 0.0
        ok = pct_seed is not None and pct_seed <= SEEDS and \
            ratio >= 50 and same == args.replays
        bad = bad or not ok
        rows.append((name, trials, plain_median, pct_seed, pct_fails,
                     rnd_seed, rnd_fails, ratio, same))
        capped = ' (never failed)' if min(trials) >= args.plain_max else ''
        print(f'{name}: plain runs to first failure {trials}, median '
              f'{plain_median:g}{capped}; PCT (k={steps}) first seed '
              f'{pct_seed}, {pct_fails}/{SEEDS} seeds fail; random walk '
              f'first seed {rnd_seed}, {rnd_fails}/{SEEDS} fail; replays '
              f'{same}/{args.replays} identical ({first}); '
              f'{time.monotonic() - began:.0f} s', flush=True)
    print()
    print(f'{"bug":22} {"plain median":>12} {"PCT seed":>8} '
          f'{"random seed":>11} {"plain/PCT":>9} {"replays":>8}')
    for name, trials, median, pct, _, rnd, _, ratio, same in rows:
        more = '>=' if min(trials) >= args.plain_max else ''
        print(f'{name:22} {more + format(median, "g"):>12} {pct!s:>8} '
              f'{rnd!s:>11} {more + format(ratio, ".0f") + "x":>9} '
              f'{same:>5}/{args.replays}')
    plain, scheduled = overhead(args.overhead_runs)
    p = statistics.median(t for t, _, _ in plain)
    s = statistics.median(t for t, _, _ in scheduled)
    passed = all(ok for _, ok, _ in plain + scheduled)
    tests = plain[0][2]
    print(f'\nexample suite ({tests} tests), median of '
          f'{args.overhead_runs}: plain {p:.2f} s, on a schedule {s:.2f} s, '
          f'overhead {s / p:.2f}x (target <= 3x: '
          f'{"met" if s / p <= 3 else "MISSED"}); all passed: {passed}')
    bad = bad or s / p > 3 or not passed
    print(f'targets (>= 50x sooner, within {SEEDS} seeds, '
          f'{args.replays}/{args.replays} replays, <= 3x): '
          f'{"all met" if not bad else "NOT all met"}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
