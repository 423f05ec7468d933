"""Overhead of DeadlockFixture, in one run.

1. The example cloud's suite: runs ``examples/tests`` in this process,
   alternately without and with ``DETECT_DEADLOCKS``, ``--rounds`` times
   each, and prints the median wall time of each and their ratio. Every run
   must pass (that is the "runs clean under the fixture" check).
2. Idle pools on real time (no clock): ``--tests`` tests that each start a
   stdlib and a futurist thread pool and an oslo.messaging RPC server on
   ``memory://`` (its futurist executor), use them once, and leave them idle
   at the detector's cleanup, as a service under test does; stock (no
   fixture) and under ``DeadlockFixture``. Prints each test's wall time,
   the ratio, and the detector's cleanup time per test (median and max).

Usage: ``python benchmarks/deadlock_bench.py [--rounds N] [--tests N]``.
"""

import argparse
import concurrent.futures
import logging
import os
import statistics
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import nova_fixtures  # noqa: E402,F401  (threading backend first)

import futurist  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_messaging import conffixture  # noqa: E402
import oslo_messaging  # noqa: E402

from examples.tests import base  # noqa: E402
from examples.tests import test_cloud  # noqa: E402


class Endpoint:
    def ping(self, ctxt, value):
        return value


def idle_pools_test(detect):
    """One test leaving pools idle; returns (wall s, detector cleanup s)."""
    start = time.perf_counter()
    detector = nova_fixtures.DeadlockFixture() if detect else None
    if detector is not None:
        detector.setUp()
    conf = cfg.ConfigOpts()
    conf_fixture = conffixture.ConfFixture(conf)
    conf_fixture.setUp()
    transport = oslo_messaging.get_rpc_transport(conf, url='memory://')
    target = oslo_messaging.Target(topic=f'idle-{uuid.uuid4().hex}',
                                   server='s')
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()])
    server.start()
    stdlib_pool = concurrent.futures.ThreadPoolExecutor(4)
    futurist_pool = futurist.ThreadPoolExecutor(4)
    try:
        client = oslo_messaging.get_rpc_client(transport, target)
        for value in range(4):
            assert client.call({}, 'ping', value=value) == value
            assert stdlib_pool.submit(abs, -value).result() == value
            assert futurist_pool.submit(abs, -value).result() == value
        cleanup = 0.0
        if detector is not None:
            cleanup_start = time.perf_counter()
            detector.cleanUp()
            cleanup = time.perf_counter() - cleanup_start
    finally:
        stdlib_pool.shutdown()
        futurist_pool.shutdown()
        server.stop()
        server.wait()
        transport.cleanup()
        conf_fixture.cleanUp()
    return time.perf_counter() - start, cleanup


def idle_pools(tests):
    walls = {False: [], True: []}
    cleanups = []
    for _ in range(tests):
        for detect in (False, True):
            wall, cleanup = idle_pools_test(detect)
            walls[detect].append(wall)
            if detect:
                cleanups.append(cleanup)
    off = statistics.median(walls[False])
    on = statistics.median(walls[True])
    print(f'idle pools on real time ({tests} tests each way; a stdlib and a '
          f'futurist pool and an RPC server left idle per test): median '
          f'test without DeadlockFixture {off * 1000:.1f} ms, with '
          f'{on * 1000:.1f} ms ({on / off:.2f}x); the detector\'s cleanup '
          f'per test: median {statistics.median(cleanups) * 1000:.1f} ms, '
          f'max {max(cleanups) * 1000:.1f} ms')


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
    parser.add_argument('--tests', type=int, default=5)
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
    idle_pools(args.tests)
    return 0


if __name__ == '__main__':
    sys.exit(main())
