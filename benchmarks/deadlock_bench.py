"""Overhead of DeadlockFixture on the example cloud's suite, in one run.

Runs ``examples/tests`` in this process, alternately without and with
``DETECT_DEADLOCKS``, ``--rounds`` times each, and prints the median wall
time of each and their ratio. Every run must pass (that is the "runs clean
under the fixture" check). Usage: ``python benchmarks/deadlock_bench.py``.
"""

import argparse
import logging
import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import nova_fixtures  # noqa: E402,F401  (threading backend first)

from examples.tests import base  # noqa: E402
from examples.tests import test_cloud  # noqa: E402


def run_suite(detect):
    base.CloudTestCase.DETECT_DEADLOCKS = detect
    suite = unittest.defaultTestLoader.loadTestsFromModule(test_cloud)
    result = unittest.TestResult()
    start = time.perf_counter()
    suite.run(result)
    elapsed = time.perf_counter() - start
    if not result.wasSuccessful():
        for test, text in result.errors + result.failures:
            print(f'{test.id()}:\n{text}')
        raise SystemExit(f'the example suite failed (deadlock detection '
                         f'{"on" if detect else "off"})')
    return elapsed, result.testsRun


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    times = {False: [], True: []}
    for _ in range(args.rounds):
        for detect in (False, True):
            elapsed, count = run_suite(detect)
            times[detect].append(elapsed)
    off = statistics.median(times[False])
    on = statistics.median(times[True])
    print(f'example suite ({count} tests), median of {args.rounds} runs: '
          f'without DeadlockFixture {off:.3f} s, with {on:.3f} s, '
          f'overhead {on / off:.2f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
