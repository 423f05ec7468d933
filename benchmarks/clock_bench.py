"""Real time with and without ClockFixture, in one run, for each case.

Cases:

* scatter-gather over 5 targets, 60 s timeout, one hung target, with
  ``nova_fixtures.scatter_gather``; and the same written against plain
  ``futurist`` (``wait_for_all``, as Nova writes it) and
  ``concurrent.futures``. Under the clock: 50 runs, each checked for
  identical results and virtual timestamps.
* an oslo.service ``FixedIntervalLoopingCall`` with a 60 s interval,
  10 runs.

Without the clock each case waits its real timeout, so the default
``--timeout`` is scaled down (the case's virtual 60 s becomes
``--real-timeout`` seconds, default 2), and the printed ratio compares
like with like by scaling back. Usage: ``python benchmarks/clock_bench.py``.
"""

import argparse
import concurrent.futures
import logging
import sys
import threading
import time

import nova_fixtures  # noqa: F401  (threading backend before oslo)

import futurist
from futurist import waiters
from oslo_service import loopingcall

perf = time.perf_counter


def work(i, gate):
    if i == 3:
        gate.wait()
        return i, None
    time.sleep((i + 1) * 0.01)
    return i, round(time.monotonic() - START[0], 6)


START = [0.0]


def case_helper(timeout, gate):
    results = nova_fixtures.scatter_gather(
        range(5), lambda i: work(i, gate), timeout)
    return sorted((k, repr(v)) for k, v in results.items())


def case_futurist(timeout, gate):
    executor = futurist.ThreadPoolExecutor(5)
    futures = [executor.submit(work, i, gate) for i in range(5)]
    done, _ = waiters.wait_for_all(futures, timeout)
    executor.shutdown(wait=False)
    return sorted(f.result() for f in done)


def case_concurrent(timeout, gate):
    executor = concurrent.futures.ThreadPoolExecutor(5)
    futures = [executor.submit(work, i, gate) for i in range(5)]
    done, _ = concurrent.futures.wait(futures, timeout)
    executor.shutdown(wait=False)
    return sorted(f.result() for f in done)


def case_looping(interval, gate):
    stamps = []

    def tick():
        stamps.append(round(time.monotonic() - START[0], 6))
        if len(stamps) == 10:
            raise loopingcall.LoopingCallDone()

    loopingcall.FixedIntervalLoopingCall(tick).start(
        interval=interval).wait()
    return stamps


def run(case, seconds, clock):
    gate = threading.Event()
    fixture = nova_fixtures.ClockFixture() if clock else None
    if fixture is not None:
        fixture.setUp()
    try:
        START[0] = time.monotonic()
        start = perf()
        result = case(seconds, gate)
        elapsed = perf() - start
        virtual = fixture.now() if fixture else None
    finally:
        gate.set()
        if fixture is not None:
            fixture.cleanUp()
    return elapsed, result, virtual


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=50)
    parser.add_argument('--real-timeout', type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    # (name, case, its argument, virtual seconds it lasts, steps in it)
    cases = [('scatter_gather helper, 60 s, 1 hung', case_helper, 60, 1),
             ('futurist wait_for_all, 60 s, 1 hung', case_futurist, 60, 1),
             ('concurrent.futures.wait, 60 s, 1 hung', case_concurrent, 60,
              1),
             ('FixedIntervalLoopingCall 60 s x10', case_looping, 60, 9)]
    print(f"{'case':<40} {'real, no clock':>16} {'with clock (max)':>17} "
          f"{'speed-up':>10} {'identical':>10}")
    for name, case, seconds, steps in cases:
        plain, _, _ = run(case, args.real_timeout / steps, clock=False)
        plain_full = plain * seconds * steps / args.real_timeout
        outcomes = set()
        times = []
        for _ in range(args.runs):
            elapsed, result, virtual = run(case, seconds, clock=True)
            times.append(elapsed)
            outcomes.add((repr(result), virtual))
        worst = max(times)
        print(f'{name:<40} {plain_full:>13.1f} s* {worst * 1e3:>14.1f} ms '
              f'{plain_full / worst:>9,.0f}x '
              f'{len(outcomes) == 1!s:>10}')
        if len(outcomes) != 1:
            print(f'  differing outcomes: {sorted(outcomes)[:3]}')
    print(f'* measured with the timeout scaled to {args.real_timeout:g} s '
          f'and scaled back; runs with the clock: {args.runs} per case')
    return 0


if __name__ == '__main__':
    sys.exit(main())
