"""False positives of the deadlock detector's RPC edges, counted.

Runs, in this process, the call chains that are no cycle
(``examples.gallery.rpc_deadlocks.TestNoDeadlock``: a fanout cast that
leads to calls back, nested calls with room in every pool) ``--runs``
times each on the clock and on real time, and the example cloud's suite
under the detector ``--suite-runs`` times; prints how many runs passed and
how many reported anything. Exits 1 on any report or failure.

Usage: ``python benchmarks/deadlock_false_positives.py [--runs 1000]
[--suite-runs 10]``.
"""

import argparse
import logging
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import nova_fixtures  # noqa: E402,F401  (threading backend first)

from examples.gallery import rpc_deadlocks  # noqa: E402
from examples.tests import base  # noqa: E402
from examples.tests import test_cloud  # noqa: E402


def run(suite):
    result = unittest.TestResult()
    suite.run(result)
    return result


def loop(label, make_suite, runs):
    """Run ``make_suite()`` ``runs`` times; (failed runs, first failure)."""
    failed, first = 0, None
    start = time.perf_counter()
    tests = 0
    for _ in range(runs):
        result = run(make_suite())
        tests += result.testsRun
        if not result.wasSuccessful():
            failed += 1
            if first is None:
                test, text = (result.errors + result.failures)[0]
                first = f'{test.id()}:\n{text}'
    print(f'{label}: {runs} runs ({tests} tests), {runs - failed} clean, '
          f'{failed} failed or reported, {time.perf_counter() - start:.1f} s',
          flush=True)
    return failed, first


def gallery(real_time):
    class Real(rpc_deadlocks.TestNoDeadlock):
        USE_CLOCK = False

    case = Real if real_time else rpc_deadlocks.TestNoDeadlock
    return unittest.defaultTestLoader.loadTestsFromTestCase(case)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--suite-runs', type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    base.CloudTestCase.DETECT_DEADLOCKS = True
    outcomes = [
        loop('no-cycle gallery on the clock', lambda: gallery(False),
             args.runs),
        loop('no-cycle gallery on real time', lambda: gallery(True),
             args.runs),
        loop('example suite under the detector',
             lambda: unittest.defaultTestLoader.loadTestsFromModule(
                 test_cloud), args.suite_runs),
    ]
    firsts = [first for failed, first in outcomes if failed]
    for first in firsts:
        print(first)
    return 1 if firsts else 0


if __name__ == '__main__':
    sys.exit(main())
