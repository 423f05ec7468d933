"""Hunt a rare interleaving: run one test under many seeded schedules.

``python -m nova_fixtures.hunt TEST_ID [--runs N] [--time S]
[--strategy pct|random] [--depth D] [--steps K] [--jobs J] [--timeout S]``
runs TEST_ID under seeds 1, 2, ... in parallel processes (forked from one
that has imported the test, so each starts from the same state), stops at
the first failure, error or hang, prints the seed, the failure and the
command that replays it, then shrinks the failing schedule to the few
decisions that matter. ``--replay SEED`` runs that seed once, in this
process (so under ``python -m pdb`` too), and checks the run against the
trace the hunt recorded. Guide: ``doc/source/hunting.rst``.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Iterator

from nova_fixtures import _hunt_runner
from nova_fixtures import _strategies
from nova_fixtures import _trace
from nova_fixtures import schedule
from nova_fixtures import testcase as testcase_mod
from nova_fixtures import virtual_time

__all__ = ['HuntError', 'Runner', 'main', 'run_once', 'scheduled_run']

TRACE_DIR = os.path.join(tempfile.gettempdir(), 'nova-fixtures-hunt')

Runner = _hunt_runner.Runner


class HuntError(Exception):
    """A bad test id or option; the message says which."""


def load(test_id: str) -> unittest.TestCase:
    """The one test ``test_id`` names, wrapped in a clock if it has none.
    """
    try:
        suite = unittest.TestLoader().loadTestsFromName(test_id)
    except (ImportError, AttributeError, ValueError) as exc:
        raise HuntError(f'no test {test_id!r}: {exc}') from None
    tests = list(_flatten(suite))
    failed = [t for t in tests if type(t).__name__ == '_FailedTest']
    if failed:
        error = str(getattr(failed[0], '_exception', '?')).strip()
        raise HuntError(f'no test {test_id!r}: {error.splitlines()[-1]}')
    if len(tests) != 1 or tests[0].id() != test_id:
        raise HuntError(
            f'{test_id!r} names {len(tests)} tests; give the id of one '
            f'(such as {tests[0].id() if tests else "module.Class.test"})')
    test = tests[0]
    if isinstance(test, testcase_mod.TestCase) and (
            test.USE_CLOCK or test.SCHEDULE_SEED is not None):
        return test
    wrapped = virtual_time.apply_clock(unittest.TestSuite([test]))
    return next(iter(_flatten(wrapped)))


def _flatten(suite: Any) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for item in suite:
            yield from _flatten(item)
    else:
        yield suite


def run_once(test_id: str, options: dict[str, Any],
             verbose: bool = False) -> dict[str, Any]:
    """Run ``test_id`` once under the schedule ``options``; its outcome
    and schedule as a JSON-able dict."""
    test = load(test_id)
    schedule._last = None
    withdraw = schedule.request(**options)
    result: unittest.TestResult = unittest.TestResult()
    if verbose:
        result = unittest.TextTestResult(
            unittest.runner._WritelnDecorator(sys.stderr),
            True, 2)
    try:
        test.run(result)
    finally:
        withdraw()
    problems = result.errors + result.failures
    if problems:
        outcome = 'error' if result.errors else 'fail'
        text = problems[0][1]
    elif result.skipped:
        outcome, text = 'skip', result.skipped[0][1]
    else:
        outcome, text = 'pass', ''
    ran = schedule.last_result()
    record: dict[str, Any] = {'outcome': outcome, 'text': text}
    if ran is None:
        record['schedule'] = None
        return record
    record['schedule'] = {
        'seed': ran.seed, 'strategy': ran.strategy, 'steps': ran.steps,
        'choices': ran.choices, 'switches': ran.switches,
        'preemptions': ran.preemptions, 'fingerprint': ran.fingerprint,
        'journal': ran.journal, 'journal_entries': ran.journal_entries,
        'causes': ran.causes, 'divergence': ran.divergence,
        'decisions': ran.decisions, 'trace': ran.trace,
        'names': {str(k): v for k, v in ran.names.items()},
        'summary': ran.summary()}
    return record


def _signature(record: dict[str, Any]) -> str:
    """What kind of failure: the exception's type (last traceback line)."""
    if record['outcome'] in ('pass', 'skip'):
        return ''
    if record['outcome'] == 'hang':
        return 'hang'
    text: str = record['text']
    last = text.strip().splitlines()[-1:] or ['?']
    return last[0].split(':', 1)[0]


def scheduled_run(test_id: str, options: dict[str, Any]
                  ) -> Callable[[], dict[str, Any]]:
    """Work for a `Runner`: one run of ``test_id`` on a schedule."""
    return functools.partial(run_once, test_id, options)


def _progress(text: str, final: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write('\r' + text.ljust(79) + ('\n' if final else ''))
    else:
        sys.stderr.write(text + '\n')
    sys.stderr.flush()


def _options(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {'seed': seed, 'strategy': args.strategy, 'depth': args.depth,
            'steps': args.steps}


def replay_command(args: argparse.Namespace, seed: int) -> str:
    words = ['python', '-m', 'nova_fixtures.hunt', args.test_id,
             '--strategy', args.strategy, '--depth', str(args.depth),
             '--steps', str(args.steps), '--replay', str(seed)]
    return 'PYTHONHASHSEED=0 ' + ' '.join(shlex.quote(w) for w in words)


def trace_path(args: argparse.Namespace, seed: int) -> str:
    name = (f'{args.test_id}.{args.strategy}-d{args.depth}-k{args.steps}'
            f'-{seed}.json')
    return os.path.join(args.trace_dir, name)


def hunt(args: argparse.Namespace) -> int:
    load(args.test_id)
    if threading.active_count() > 1:
        raise HuntError(
            f'importing {args.test_id} started threads '
            f'({", ".join(t.name for t in threading.enumerate())}); the '
            f'hunt forks one process per run and needs a single thread')
    runner = Runner(args.jobs, args.timeout)
    try:
        if args.steps is None and args.strategy != 'pct':
            args.steps = 2000
        if args.steps is None:
            probe = runner.run('probe',
                               scheduled_run(args.test_id, {'seed': 0}))
            ran = probe['schedule']
            if ran is None:
                raise HuntError(f'{args.test_id} did not run on a schedule: '
                                f'{probe["text"].strip()[-500:]}')
            args.steps = max(ran['choices'], 1)
            print(f'probe: {ran["steps"]} steps, {ran["choices"]} with a '
                  f'choice: PCT spreads its change points over '
                  f'{args.steps}', flush=True)
        return _search(args, runner)
    finally:
        runner.stop()


def _search(args: argparse.Namespace, runner: Runner) -> int:
    began = time.monotonic()

    def seeds() -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        for seed in range(1, args.runs + 1):
            if args.time is not None and \
                    time.monotonic() - began > args.time:
                return
            yield seed, scheduled_run(args.test_id, _options(args, seed))

    done = 0
    found: tuple[int, dict[str, Any]] | None = None
    last_report = 0.0
    for seed, record in runner.each(seeds()):
        done += 1
        if record['outcome'] not in ('pass', 'skip'):
            found = (seed, record)
            runner.kill()
            break
        now = time.monotonic()
        if sys.stderr.isatty() or now - last_report > 5 or \
                done == args.runs:
            last_report = now
            _progress(f'hunt: {done}/{args.runs} seeds ({_how(args)}), '
                      f'{args.jobs} jobs, {now - began:.1f} s: no failure '
                      f'yet')
    elapsed = time.monotonic() - began
    if found is None:
        _progress(f'hunt: no failure in {done} seeds ({_how(args)}), '
                  f'{elapsed:.1f} s', final=True)
        return 0
    seed, record = found
    _progress(f'hunt: seed {seed} {record["outcome"]}s after {done} runs, '
              f'{elapsed:.1f} s', final=True)
    print(f'\n{args.test_id} {record["outcome"]}s under seed {seed} '
          f'({_how(args)}):\n')
    print(_tail(record['text']))
    ran = record['schedule']
    if ran is not None:
        print(ran['summary'])
        os.makedirs(args.trace_dir, exist_ok=True)
        with open(trace_path(args, seed), 'w') as f:
            _trace.write_entries(f, ran['trace'])
    print(f'\nreplay it (under a debugger: python -m pdb -m '
          f'nova_fixtures.hunt ...):\n  {replay_command(args, seed)}')
    if ran is not None and args.shrink and ran['decisions']:
        shrink(args, runner, seed, record)
    return 1


def _how(args: argparse.Namespace) -> str:
    if args.strategy == 'pct':
        return f'pct, depth {args.depth}, {args.steps} steps'
    return str(args.strategy)


def _tail(text: str, lines: int = 30) -> str:
    """The last traceback of a failure's text (its details go), at most
    ``lines`` lines."""
    start = text.rfind('Traceback (most recent call last):')
    if start > 0:
        text = text[start:]
    kept = text.rstrip().splitlines()
    if len(kept) > lines:
        kept = [f'  ... ({len(kept) - lines} lines above)'] + kept[-lines:]
    return '\n'.join(kept)


def shrink(args: argparse.Namespace, runner: Runner, seed: int,
           record: dict[str, Any]) -> list[dict[str, Any]]:
    """Find fewer decisions that still fail the same way; print them."""
    want = _signature(record)
    decisions = record['schedule']['decisions']
    began = time.monotonic()
    runs = 0

    def fails(subset: list[dict[str, Any]]) -> dict[str, Any] | None:
        nonlocal runs
        runs += 1
        got = runner.run('shrink', scheduled_run(
            args.test_id, {'seed': seed,
                           'forced': _trace.forced_json(subset)}))
        return got if _signature(got) == want else None

    kept = list(decisions)
    last = fails(kept)
    if last is None:
        print(f'\nshrinking: the {len(kept)} decisions alone do not fail '
              f'the same way; nothing to shrink')
        return kept
    chunk = max(len(kept) // 2, 1)
    while chunk >= 1 and runs < args.shrink_runs:
        index = 0
        while index < len(kept) and runs < args.shrink_runs:
            trial = kept[:index] + kept[index + chunk:]
            got = fails(trial)
            if got is not None:
                kept, last = trial, got
            else:
                index += chunk
        if chunk == 1:
            break
        chunk //= 2
    texts = [d['text'] for d in last['schedule']['decisions']] \
        if last['schedule'] else [d['text'] for d in kept]
    print(f'\nshrunk from {len(decisions)} to {len(kept)} decision(s) in '
          f'{runs} runs, {time.monotonic() - began:.1f} s; with every other '
          f'thread left running until it blocks, these still fail it:')
    for text in texts:
        print(f'  - {text}')
    os.makedirs(args.trace_dir, exist_ok=True)
    path = trace_path(args, seed)[:-5] + '.shrunk.json'
    with open(path, 'w') as f:
        _trace.write_forced(f, kept)
    print(f'replay the shrunk schedule:\n  PYTHONHASHSEED=0 python -m '
          f'nova_fixtures.hunt {shlex.quote(args.test_id)} --replay '
          f'{seed} --forced {shlex.quote(path)}')
    return kept


def replay(args: argparse.Namespace) -> int:
    options = _options(args, args.replay)
    if args.steps is None:
        options.pop('steps')
    if args.forced:
        options = {'seed': args.replay,
                   'forced': _read(args.forced, _trace.read_forced)}
    else:
        path = trace_path(args, args.replay)
        if os.path.exists(path):
            options['expected'] = _read(path, _trace.read_entries)
            print(f'checking the run against {path}', flush=True)
    # NOTE(hunt): a thread stopped in a debugger is not stuck.
    options['stall'] = None
    record = run_once(args.test_id, options, verbose=True)
    print(f'\n{args.test_id}: {record["outcome"]}')
    if record['outcome'] not in ('pass', 'skip'):
        print(_tail(record['text']))
    if record['schedule'] is not None:
        print(record['schedule']['summary'])
    return 0 if record['outcome'] in ('pass', 'skip') else 1


def _read(path: str, read: Callable[[Any], Any]) -> Any:
    """``read`` (a `nova_fixtures._trace` reader) of the file ``path``.
    """
    try:
        with open(path) as f:
            return read(f)
    except (OSError, ValueError) as exc:
        raise HuntError(f'{path}: {exc}') from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m nova_fixtures.hunt',
        description='Run one test under many seeded schedules until one '
                    'fails, then replay and shrink it.')
    p.add_argument('test_id', help='the id of one test (module.Class.test)')
    p.add_argument('--runs', type=int, default=200,
                   help='seeds to try (default 200)')
    p.add_argument('--time', type=float, default=None,
                   help='stop starting runs after this many seconds')
    p.add_argument('--strategy', choices=schedule.STRATEGIES, default='pct',
                   help='pct (default) or random')
    p.add_argument('--depth', type=int, default=3,
                   help="PCT's bug depth (default 3)")
    p.add_argument('--steps', type=int, default=None,
                   help="PCT's steps with a choice (default: a probe run "
                        "counts them)")
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   help='runs at once (default: one per CPU)')
    p.add_argument('--timeout', type=float, default=60.0,
                   help='real seconds before a run counts as hung')
    p.add_argument('--replay', type=int, default=None, metavar='SEED',
                   help='run this seed once, here, and report')
    p.add_argument('--forced', default=None, metavar='FILE',
                   help='with --replay: the shrunk schedule to run')
    p.add_argument('--no-shrink', dest='shrink', action='store_false',
                   help='stop at the failing seed')
    p.add_argument('--shrink-runs', type=int, default=100,
                   help='runs shrinking may use (default 100)')
    p.add_argument('--trace-dir', default=TRACE_DIR,
                   help=f'where recorded traces go (default {TRACE_DIR})')
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    least = _strategies.LEAST
    for name, lowest in (('runs', 1), ('depth', least['depth']),
                         ('jobs', 1), ('shrink_runs', 0)):
        if getattr(args, name) < lowest:
            p.error(f'--{name.replace("_", "-")} must be >= {lowest}, got '
                    f'{getattr(args, name)}')
    if args.steps is not None and args.steps < least['steps']:
        p.error(f'--steps must be >= {least["steps"]}, got {args.steps}')
    if args.timeout <= 0 or (args.time is not None and args.time <= 0):
        p.error('--timeout and --time must be > 0')
    if args.replay is not None and args.replay < least['seed']:
        p.error(f'--replay must be a seed >= {least["seed"]}, got '
                f'{args.replay}')
    if args.forced and args.replay is None:
        p.error('--forced needs --replay SEED')
    sys.path.insert(0, os.getcwd())
    try:
        if args.replay is not None:
            return replay(args)
        return hunt(args)
    except HuntError as exc:
        print(f'hunt: {exc}', file=sys.stderr)
        return 2


def _with_fixed_hashes() -> None:
    """Run again with PYTHONHASHSEED=0 unless set (or under a debugger,
    which a new process would lose): seeds replay only if sets and dicts
    of strings iterate alike in every run."""
    if 'PYTHONHASHSEED' in os.environ or sys.gettrace() is not None:
        return
    env = dict(os.environ, PYTHONHASHSEED='0')
    os.execve(sys.executable, [sys.executable, '-m', 'nova_fixtures.hunt'] +
              sys.argv[1:], env)


if __name__ == '__main__':
    _with_fixed_hashes()
    sys.exit(main())
