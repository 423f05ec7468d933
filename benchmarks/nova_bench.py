"""Nova's own functional tests, unedited, in four modes, in one run.

Runs the slice of Nova's functional suite listed in
``benchmarks/nova_slice.txt`` (Nova installed from PyPI, threading mode,
``stestr --concurrency 2``) four times:

* ``fake:``: stock, as Nova runs it;
* ``memory://``: ``python -m nova_fixtures.run --transport memory
  --adapter nova``;
* ``+ clock``: the same with ``--clock``;
* ``+ deadlocks``: the same with ``--clock --deadlocks``.

For each: tests passed and failed, wall time, CPU time of the whole
process tree (``RUSAGE_CHILDREN``), messages journalled on the memory://
buses and deadlock or lock-order reports; then the ratios the targets
name. Exits 1 if a test failed in one of the library's modes or a
detector reported anything; a failure of stock ``fake:`` (the baseline,
Nova's own) is printed but does not fail the run.

Each mode runs under a wall-time cap (``--cap``, 30 minutes): a run that
hangs, in a test or at exit, is killed by its process id and fails the
run, with its workers' stacks (``benchmarks/suite_bench.py``, whose
`run_mode` and `Tally` this uses, as ``tox -e ceilometer`` and ``tox -e
mistral`` do).

Nova's wheel installs ``etc/nova`` (``api-paste.ini``) under the
environment's prefix, where its tests look for it next to the package (a
source tree's layout); ``suite_bench.link_etc`` links it there first.

Usage: ``python benchmarks/nova_bench.py [--modes fake,memory,clock,
deadlocks] [--concurrency 2] [--slice FILE] [--cap SECONDS]`` (``tox -e
nova`` runs it).

``--waits`` measures instead the ceiling of any clock speed-up on the
slice: each test runs once, stock, one at a time in each of
``--concurrency`` processes, timing its wall and the CPU of the whole
process (every thread). The clock can remove only the waiting (wall minus
CPU), and with two workers on two cores a clock run can't take less wall
than its CPU over the workers, so no clock run of the slice can beat
sum(wall) / sum(CPU) (slightly less, as the library's own work costs a
few per cent more CPU). Not run by ``tox -e nova``.
"""

import argparse
import os
import shutil
import subprocess
import sys

import suite_bench

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE = os.path.join(HERE, 'nova_slice.txt')
TEST_PATH = 'nova/tests/functional'
OPTIONS = ('--adapter', 'nova', '--tests', 'nova.tests.functional')
MODES = suite_bench.MODES
TITLES = suite_bench.TITLES


def nova_env():
    return (('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1'),
            ('OS_TEST_TIMEOUT', os.environ.get('OS_TEST_TIMEOUT', '160')))


def run_mode(mode, site, tests, concurrency, cap, expected=None):
    return suite_bench.run_mode(
        mode, site, TEST_PATH, tests, concurrency, env=nova_env(),
        options=OPTIONS, cap=cap, prefix='nova-bench', expected=expected)


_PROFILE = '''
import sys, time, unittest
loader = unittest.TestLoader()
for test_id in sys.argv[1:]:
    result = unittest.TestResult()
    cpu, wall = time.process_time(), time.perf_counter()
    loader.loadTestsFromName(test_id).run(result)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f'nova-bench {wall:.3f} {cpu:.3f} {int(result.wasSuccessful())} '
          f'{test_id}', flush=True)
'''


def measure_waits(site, tests, concurrency):
    """Each test's stock wall and process CPU, run one at a time in each
    of ``concurrency`` processes; print the ceiling of a clock speed-up.
    """
    env = dict(os.environ, **dict(nova_env()))
    children = [subprocess.Popen(
        [sys.executable, '-c', _PROFILE] + tests[i::concurrency],
        cwd=site, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True) for i in range(concurrency)]
    rows = []
    for child in children:
        out, _ = child.communicate()
        for line in out.splitlines():
            if not line.startswith('nova-bench '):
                continue
            _, wall, cpu, ok, test_id = line.split()
            rows.append((float(wall), float(cpu), ok == '1', test_id))
    failed = [t for _, _, ok, t in rows if not ok]
    rows = [r for r in rows if r[2]]
    wall = sum(r[0] for r in rows)
    cpu = sum(r[1] for r in rows)
    print(f'{len(rows)} tests passed stock, one at a time '
          f'({len(failed)} failed, {len(tests) - len(rows) - len(failed)} '
          f'did not run): wall {wall:.1f} s, CPU {cpu:.1f} s, waiting '
          f'{wall - cpu:.1f} s ({(wall - cpu) / wall:.0%})')
    print(f'ceiling of the clock\'s wall speed-up on this slice: '
          f'{wall / cpu:.2f}x (the clock removes waiting only)')
    print('most waiting:')
    for w, c, _, test_id in sorted(rows, key=lambda r: r[1] - r[0])[:5]:
        print(f'  {w:6.2f} s wall {c:6.2f} s CPU  {test_id}')
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--modes', default='fake,memory,clock,deadlocks')
    parser.add_argument('--concurrency', type=int, default=2)
    parser.add_argument('--slice', default=SLICE,
                        help='a file of test ids, one per line')
    parser.add_argument('--waits', action='store_true',
                        help='measure the ceiling of a clock speed-up')
    parser.add_argument('--cap', type=float, default=1800.0,
                        help='wall-time cap of each mode, in seconds: a '
                             'run still going then is a HANG (default '
                             '1800)')
    args = parser.parse_args()
    modes = [m for m in args.modes.split(',') if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f'unknown mode(s) {", ".join(unknown)}; choose from '
                     f'{", ".join(MODES)}')
    site = suite_bench.site_of('nova')
    suite_bench.link_etc(site, 'nova')
    tests = suite_bench.read_list(args.slice)
    if args.waits:
        return measure_waits(site, tests, args.concurrency)
    print(f'Nova functional slice: {len(tests)} tests from '
          f'{len({t.rsplit(".", 2)[0] for t in tests})} modules, '
          f'--concurrency {args.concurrency}', flush=True)
    results = {}
    bad = False
    print(f'{"mode":32} {"passed":>6} {"failed":>6} {"wall":>8} '
          f'{"CPU":>8} {"CPU/workers":>11} {"messages":>9} '
          f'{"reports":>7}', flush=True)
    expected = None
    for mode in modes:
        r = results[mode] = run_mode(mode, site, tests, args.concurrency,
                                     args.cap, expected)
        tally = r['tally']
        if mode == 'fake' and not r['hang']:
            expected = set(tally.outcomes) - {'process-returncode'}
        passed = tally.count('success')
        failed = tally.failed()
        missing = len(r['never'])
        r['passed'] = passed
        messages = f'{tally.messages:,}' if mode != 'fake' else '-'
        print(f'{TITLES[mode]:32} {passed:6} {len(failed) + missing:6} '
              f'{r["wall"]:7.1f}s {r["cpu"]:7.1f}s '
              f'{r["cpu"] / args.concurrency:10.1f}s {messages:>9} '
              f'{sum(tally.reports.values()):7}', flush=True)
        if (failed or missing or r['hang'] or tally.returncode_failed()
                or tally.reports):
            bad = bad or mode != 'fake'
            for test in failed:
                print(f'  FAILED {test}')
            for test in tally.reports:
                print(f'  REPORT {test}')
            if r['hang']:
                print(f'  HANG {r["hang"]}: killed after {r["wall"]:.0f} s')
                stacks = suite_bench.hang_stacks(r['log'])
                if stacks:
                    print(stacks)
            elif tally.returncode_failed():
                print('  a stestr worker exited non-zero')
            if missing:
                print(f'  {missing} test(s) did not run')
            print(f'  stestr repository and output: {r["work"]}')
        else:
            shutil.rmtree(r['work'])
    if 'fake' in results and 'clock' in results:
        fake, clock = results['fake'], results['clock']
        speed = fake['wall'] / clock['wall']
        idle = clock['wall'] / (clock['cpu'] / args.concurrency)
        print(f'clock wall speed-up over fake:      {speed:.2f}x '
              f'(target >= 1.6x: {"met" if speed >= 1.6 else "MISSED"})')
        print(f'clock wall / (CPU / workers):       {idle:.2f}x '
              f'(target <= 1.15x: {"met" if idle <= 1.15 else "MISSED"})')
    print(f'failures or reports in the library\'s modes: '
          f'{"some (see above)" if bad else "none"}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
