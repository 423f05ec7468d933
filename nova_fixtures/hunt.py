"""Hunt a rare interleaving: run one test under many seeded schedules.

``python -m nova_fixtures.hunt TEST_ID [--runs N] [--time S]
[--strategy pct|random] [--depth D] [--steps K] [--jobs J] [--timeout S]
[--shard I/N] [--transport memory] [--deadlocks] [--adapter NAME]
[--context-handle KEY]`` runs TEST_ID (a unittest id,
``package.module.Class.test``, or a pytest node id,
``tests/test_x.py::test_y[param]``) under seeds 1, 2, ... in parallel
processes (forked from one that has imported the test, so each starts
from the same state), stops at the first failure, error or hang, prints
the schedule's token (``pct-d3-k16-4``: strategy, depth, steps, seed), the
failure and the command that replays it, then shrinks the failing schedule
to the few decisions that matter. ``--replay TOKEN`` runs that schedule
once, in this process (so under ``python -m pdb`` too), and checks the run
against the trace the hunt recorded.

The hunt loads its test as ``nova_fixtures.run`` loads a suite: it starts
a new Python in which the test's module (and with it the suite's own
bootstrap) is imported before anything of this library, and its
``--transport``, ``--deadlocks``, ``--adapter`` and ``--context-handle``
give each run the fixtures ``nova_fixtures.run`` would. Guide:
``doc/source/hunting.rst``.
"""

from __future__ import annotations

import argparse
import functools
import glob
import math
import os
import re
import shlex
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Iterator

from nova_fixtures import _hunt_pytest
from nova_fixtures import _hunt_runner
from nova_fixtures import _strategies
from nova_fixtures import _trace
from nova_fixtures import run as run_mod
from nova_fixtures import schedule
from nova_fixtures import testcase as testcase_mod
from nova_fixtures import virtual_time

__all__ = ['HuntError', 'Runner', 'main', 'run_once', 'scheduled_run']

TRACE_DIR = os.path.join(tempfile.gettempdir(), 'nova-fixtures-hunt')
# NOTE(hunt): real seconds a run's running thread may make no progress
# before its schedule lets every thread go (`ScheduleFixture`'s stall, 2 s
# by default): the hunt runs --jobs tests at once, often beside other
# work, and a thread starved that long by the machine is not stuck; a run
# that is stuck is the --timeout's to end.
_STALL = 10.0
# NOTE(hunt): probe runs at most, while one is not exact (`_probe`).
_PROBES = 3

Runner = _hunt_runner.Runner


class HuntError(Exception):
    """A bad test id or option; the message says which."""


def load(test_id: str, settings: run_mod.RunSettings | None = None,
         verbose: bool = False) -> Any:
    """The one test ``test_id`` names (a unittest id or a pytest node id),
    with the fixtures ``settings`` (``nova_fixtures.run``'s) give it, and
    wrapped in a clock if it has none."""
    settings = settings or run_mod.RunSettings()
    if _hunt_pytest.is_node_id(test_id):
        return _load_pytest(test_id, settings, verbose)
    try:
        suite = unittest.TestLoader().loadTestsFromName(test_id)
    except (ImportError, AttributeError, ValueError) as exc:
        raise HuntError(f'no test {test_id!r}: {exc}') from None
    except TypeError:
        raise HuntError(f'no test {test_id!r}: it names a function, not a '
                        f'unittest test; for a pytest test give its node '
                        f'id ({_node_id_of(test_id)})') from None
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
    if not getattr(type(test), '_nova_fixtures_wrapped', False):
        # NOTE(hunt): not loaded through the boot's loader (a replay under
        # a debugger): give it the run fixtures here.
        virtual_time.apply_fixtures(
            suite, lambda: run_mod.fixtures_for(test, settings))
        test = next(iter(_flatten(suite)))
    if isinstance(test, testcase_mod.TestCase) and (
            test.USE_CLOCK or test.SCHEDULE_SEED is not None):
        return test
    wrapped = virtual_time.apply_clock(unittest.TestSuite([test]))
    return next(iter(_flatten(wrapped)))


def _load_pytest(test_id: str, settings: run_mod.RunSettings,
                 verbose: bool) -> _hunt_pytest.PytestTest:
    test = _hunt_pytest.PytestTest(test_id, settings, verbose)
    try:
        items = test.collect()
    except LookupError as exc:
        raise HuntError(f'no test {test_id!r}: {exc}') from None
    if len(items) != 1:
        raise HuntError(
            f'{test_id!r} names {len(items)} tests; give the node id of one'
            f'{f" (such as {items[0]})" if items else ""}')
    return test


def _node_id_of(test_id: str) -> str:
    """The pytest node id of a dotted id that names a function."""
    parts = test_id.split('.')
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get('.'.join(parts[:cut]))
        path = getattr(module, '__file__', None)
        if path:
            relative = os.path.relpath(path)
            return '::'.join([relative] + parts[cut:])
    return 'tests/test_x.py::test_y'


def _flatten(suite: Any) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for item in suite:
            yield from _flatten(item)
    else:
        yield suite


def run_once(test_id: str, options: dict[str, Any],
             verbose: bool = False,
             settings: run_mod.RunSettings | None = None) -> dict[str, Any]:
    """Run ``test_id`` once under the schedule ``options``; its outcome
    and schedule as a JSON-able dict."""
    test = load(test_id, settings, verbose)
    schedule._last = None
    withdraw = schedule.request(**options)
    result: unittest.TestResult = unittest.TestResult()
    if verbose and not isinstance(test, _hunt_pytest.PytestTest):
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
        'token': ran.token,
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


def scheduled_run(test_id: str, options: dict[str, Any],
                  settings: run_mod.RunSettings | None = None
                  ) -> Callable[[], dict[str, Any]]:
    """Work for a `Runner`: one run of ``test_id`` on a schedule."""
    return functools.partial(run_once, test_id, options,
                             settings=settings)


def _progress(text: str, final: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write('\r' + text.ljust(79) + ('\n' if final else ''))
    else:
        sys.stderr.write(text + '\n')
    sys.stderr.flush()


def _strategy(args: argparse.Namespace) -> str:
    return str(args.strategy or _strategies.DEFAULTS['strategy'])


def _depth(args: argparse.Namespace) -> int:
    return int(args.depth or _strategies.DEFAULTS['depth'])


def token(args: argparse.Namespace, seed: int) -> str:
    """The token of ``seed``'s schedule under the hunt's options."""
    return _strategies.token(seed, _strategy(args), _depth(args),
                             args.steps or _strategies.DEFAULTS['steps'])


def _options(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {'seed': token(args, seed), 'stall': _STALL}


def settings_of(args: argparse.Namespace) -> run_mod.RunSettings:
    """The ``nova_fixtures.run`` settings the hunt's options give."""
    return run_mod.RunSettings(
        transport=args.transport or '', deadlocks=bool(args.deadlocks),
        adapter=args.adapter or '',
        context_handles=tuple(args.context_handles or ()))


def _run_words(args: argparse.Namespace) -> list[str]:
    """The options a replay needs to load the test as the hunt did."""
    words = []
    if args.transport:
        words += ['--transport', args.transport]
    if args.deadlocks:
        words.append('--deadlocks')
    if args.adapter:
        words += ['--adapter', args.adapter]
    for key in args.context_handles or ():
        words += ['--context-handle', key]
    return words


def replay_command(args: argparse.Namespace, seed: int | str,
                   *extra: str) -> str:
    """The command that replays ``seed`` (a seed under the hunt's options,
    or a token)."""
    name = seed if isinstance(seed, str) else token(args, seed)
    words = ['python', '-m', 'nova_fixtures.hunt', args.test_id,
             *_run_words(args), '--replay', name, *extra]
    return 'PYTHONHASHSEED=0 ' + ' '.join(shlex.quote(w) for w in words)


def _file_name(test_id: str) -> str:
    """``test_id`` as a file name: a node id's ``/`` and ``::`` become
    ``_``."""
    return re.sub(r'[^\w.\[\]-]', '_', test_id)


def trace_path(args: argparse.Namespace, seed: int | str) -> str:
    name = seed if isinstance(seed, str) else token(args, seed)
    return os.path.join(args.trace_dir,
                        f'{_file_name(args.test_id)}.{name}.json')


def recorded(args: argparse.Namespace, seed: int) -> list[str]:
    """The tokens of the traces the hunt recorded for ``seed`` of this
    test in ``--trace-dir``."""
    prefix = os.path.join(args.trace_dir, f'{_file_name(args.test_id)}.')
    found = []
    for path in glob.glob(glob.escape(prefix) + f'*-{seed}.json'):
        name = path[len(prefix):-len('.json')]
        try:
            if _strategies.parse(name)['seed'] == seed:
                found.append(name)
        except ValueError:
            continue
    return sorted(found)


def _shard_seeds(args: argparse.Namespace) -> range:
    index, count = args.shard
    return range(index, args.runs + 1, count)


def hunt(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    load(args.test_id, settings)
    if threading.active_count() > 1:
        raise HuntError(
            f'importing {args.test_id} started threads '
            f'({", ".join(t.name for t in threading.enumerate())}); the '
            f'hunt forks one process per run and needs a single thread')
    runner = Runner(args.jobs, args.timeout)
    try:
        if args.steps is None and _strategy(args) != 'pct':
            args.steps = _strategies.DEFAULTS['steps']
        if args.steps is None:
            ran = _probe(args, runner, settings)
            args.steps = max(ran['choices'], 1)
            print(f'probe: {ran["steps"]} steps, {ran["choices"]} with a '
                  f'choice: PCT spreads its change points over '
                  f'{args.steps}', flush=True)
        return _search(args, runner, settings)
    finally:
        runner.stop()


def _probe(args: argparse.Namespace, runner: Runner,
           settings: run_mod.RunSettings) -> dict[str, Any]:
    """One run on seed 0 that counts the steps with a choice; again (up
    to `_PROBES` runs) while a run is not exact, as when a loaded machine
    starved the running thread past the stall limit and every thread ran
    freely: its count would be short."""
    for attempt in range(1, _PROBES + 1):
        probe = runner.run('probe', scheduled_run(
            args.test_id, {'seed': 0, 'stall': _STALL}, settings))
        ran: dict[str, Any] | None = probe['schedule']
        if ran is None:
            raise HuntError(f'{args.test_id} did not run on a schedule: '
                            f'{probe["text"].strip()[-500:]}')
        if not ran['causes'] or attempt == _PROBES:
            return ran
        print(f'probe: not exact ({"; ".join(ran["causes"])}): probing '
              f'again', flush=True)
    raise AssertionError('unreachable')  # pragma: no cover


def _search(args: argparse.Namespace, runner: Runner,
            settings: run_mod.RunSettings) -> int:
    began = time.monotonic()
    seeds_of_shard = _shard_seeds(args)
    total = len(seeds_of_shard)
    shard = '' if args.shard == (1, 1) else \
        f'shard {args.shard[0]}/{args.shard[1]}: '

    def seeds() -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        for seed in seeds_of_shard:
            if args.time is not None and \
                    time.monotonic() - began > args.time:
                return
            yield seed, scheduled_run(args.test_id, _options(args, seed),
                                      settings)

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
        if sys.stderr.isatty() or now - last_report > 5 or done == total:
            last_report = now
            _progress(f'hunt: {shard}{done}/{total} seeds ({_how(args)}), '
                      f'{args.jobs} jobs, {now - began:.1f} s: no failure '
                      f'yet')
    elapsed = time.monotonic() - began
    if found is None:
        _progress(f'hunt: {shard}no failure in {done} seeds '
                  f'({_how(args)}), {elapsed:.1f} s', final=True)
        return 0
    seed, record = found
    name = token(args, seed)
    _progress(f'hunt: {shard}seed {seed} {record["outcome"]}s after {done} '
              f'runs, {elapsed:.1f} s', final=True)
    print(f'\n{args.test_id} {record["outcome"]}s under seed {seed} '
          f'({_how(args)}): schedule {name}\n')
    print(_tail(record['text']))
    ran = record['schedule']
    if ran is not None:
        print(ran['summary'])
    print(f'\nreplay it (under a debugger: python -m pdb -m '
          f'nova_fixtures.hunt ...):\n  {replay_command(args, seed)}',
          flush=True)
    if _hunt_pytest.is_node_id(args.test_id):
        print(f'or in pytest, with PYTHONHASHSEED=0: mark the test '
              f'@pytest.mark.nova_schedule(seed={name!r})')
    if ran is not None:
        _write(trace_path(args, seed), _trace.write_entries, ran['trace'])
    if ran is not None and args.shrink and ran['decisions']:
        shrink(args, runner, seed, record)
    return 1


def _write(path: str, write: Callable[[Any, Any], None], data: Any) -> bool:
    """Write a trace file; on failure say so (the hunt's result stands)."""
    try:
        with open(path, 'w') as f:
            write(f, data)
    except OSError as exc:
        print(f'hunt: could not write {path}: {exc.strerror}',
              file=sys.stderr)
        return False
    return True


def _how(args: argparse.Namespace) -> str:
    if _strategy(args) == 'pct':
        return f'pct, depth {_depth(args)}, {args.steps} steps'
    return str(_strategy(args))


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
    settings = settings_of(args)
    name = token(args, seed)

    def fails(subset: list[dict[str, Any]]) -> dict[str, Any] | None:
        nonlocal runs
        runs += 1
        got = runner.run('shrink', scheduled_run(
            args.test_id, {'seed': name, 'stall': _STALL,
                           'forced': _trace.forced_json(subset)}, settings))
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
    path = trace_path(args, seed)[:-5] + '.shrunk.json'
    if _write(path, _trace.write_forced, kept):
        print(f'replay the shrunk schedule:\n  '
              f'{replay_command(args, name, "--forced", path)}')
    return kept


def _replay_token(args: argparse.Namespace) -> str:
    """The schedule ``--replay`` names: its token, or for a bare seed the
    one the options spell out or the one the hunt recorded; says which.
    """
    try:
        named = _strategies.resolve({
            'seed': args.replay, 'strategy': args.strategy,
            'depth': args.depth, 'steps': args.steps})
        _strategies.check({k: v for k, v in named.items()
                           if v is not None})
    except ValueError as exc:
        raise HuntError(f'--replay: {exc}') from None
    seed = named['seed']
    if not args.replay.isdigit():
        return token(argparse.Namespace(**{**vars(args), **{
            k: v for k, v in named.items() if k != 'seed'}}), seed)
    found = recorded(args, seed)
    if any(v is not None for v in (args.strategy, args.depth, args.steps)):
        name = token(args, seed)
        others = [t for t in found if t != name]
        if others and name not in found:
            print(f'note: the hunt recorded seed {seed} as '
                  f'{" and ".join(others)}; this replays {name}, another '
                  f'schedule', flush=True)
        return name
    if len(found) > 1:
        raise HuntError(
            f'--replay {seed}: the hunt recorded seed {seed} under '
            f'{len(found)} schedules ({", ".join(found)}) in '
            f'{args.trace_dir}: give the token of one')
    if found:
        print(f'seed {seed}: replaying {found[0]}, the schedule the hunt '
              f'recorded for it', flush=True)
        return found[0]
    name = token(args, seed)
    print(f'seed {seed}: no schedule of the hunt\'s recorded for it in '
          f'{args.trace_dir}; replaying {name} (the defaults): give the '
          f'token the hunt printed to replay its schedule', flush=True)
    return name


def replay(args: argparse.Namespace) -> int:
    name = _replay_token(args)
    options: dict[str, Any] = {'seed': name}
    if args.forced:
        options['forced'] = args.forced_decisions
    else:
        path = trace_path(args, name)
        if os.path.exists(path):
            options['expected'] = _read(path, _trace.read_entries)
            print(f'checking the run against {path}', flush=True)
    # NOTE(hunt): a thread stopped in a debugger is not stuck.
    options['stall'] = None
    record = run_once(args.test_id, options, verbose=True,
                      settings=settings_of(args))
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


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r'(\d+)/(\d+)', text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not I/N (this job\'s number from 1 to N, and N '
            f'jobs)')
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(
            f'{text!r}: I must be from 1 to N ({count})')
    return index, count


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m nova_fixtures.hunt',
        description='Run one test under many seeded schedules until one '
                    'fails, then replay and shrink it.')
    p.add_argument('test_id', help='the id of one test: module.Class.test, '
                                   'or a pytest node id '
                                   '(tests/test_x.py::test_y)')
    p.add_argument('--runs', type=int, default=200,
                   help='seeds to try (default 200; with --shard, over '
                        'every shard)')
    p.add_argument('--time', type=float, default=None,
                   help='stop starting runs after this many seconds')
    p.add_argument('--strategy', choices=schedule.STRATEGIES, default=None,
                   help='pct (default) or random')
    p.add_argument('--depth', type=int, default=None,
                   help="PCT's bug depth (default 3, at most "
                        f"{_strategies.MOST['depth']})")
    p.add_argument('--steps', type=int, default=None,
                   help="PCT's steps with a choice (default: a probe run "
                        "counts them)")
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   help='runs at once (default: one per CPU)')
    p.add_argument('--timeout', type=float, default=60.0,
                   help='real seconds before a run counts as hung')
    p.add_argument('--shard', type=_shard, default=(1, 1), metavar='I/N',
                   help='hunt only seeds I, I+N, I+2N, ... (job I of N '
                        'hunting disjoint seeds)')
    p.add_argument('--replay', default=None, metavar='TOKEN',
                   help='run this schedule (a token the hunt printed, or '
                        'a seed) once, here, and report')
    p.add_argument('--forced', default=None, metavar='FILE',
                   help='with --replay: the shrunk schedule to run')
    p.add_argument('--no-shrink', dest='shrink', action='store_false',
                   help='stop at the failing seed')
    p.add_argument('--shrink-runs', type=int, default=100,
                   help='runs shrinking may use (default 100)')
    p.add_argument('--trace-dir', default=TRACE_DIR,
                   help=f'where recorded traces go (default {TRACE_DIR})')
    run = p.add_argument_group(
        'loading the test as python -m nova_fixtures.run does')
    run.add_argument('--transport', choices=['memory'],
                     help='redirect fake: transports to memory://')
    run.add_argument('--deadlocks', action='store_true',
                     help='run under a DeadlockFixture')
    run.add_argument('--adapter', metavar='NAME',
                     help='what a suite needs beyond the library, as a '
                          'module of nova_fixtures.adapters (nova)')
    run.add_argument('--context-handle', action='append', metavar='KEY',
                     dest='context_handles',
                     help='pass this context key by handle (repeatable)')
    return p


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every option, checked before anything runs: a bad one is a usage
    error (exit status 2) that names it."""
    for name, lowest in (('runs', 1), ('jobs', 1), ('shrink_runs', 0)):
        if getattr(args, name) < lowest:
            p.error(f'--{name.replace("_", "-")} must be >= {lowest}, got '
                    f'{getattr(args, name)}')
    for name in ('depth', 'steps'):
        value = getattr(args, name)
        if value is None:
            continue
        try:
            _strategies.check({name: value})
        except ValueError as exc:
            p.error(f'--{exc}')
    for name in ('timeout', 'time'):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            p.error(f'--{name} must be a number of seconds > 0, got '
                    f'{value!r}')
    if args.replay is not None:
        try:
            _strategies.check(_strategies.parse(args.replay))
            _strategies.resolve({
                'seed': args.replay, 'strategy': args.strategy,
                'depth': args.depth, 'steps': args.steps})
        except ValueError as exc:
            p.error(f'--replay: {exc}')
    if args.forced and args.replay is None:
        p.error('--forced needs --replay SEED')
    args.forced_decisions = None
    if args.forced:
        try:
            args.forced_decisions = _read(args.forced, _trace.read_forced)
        except HuntError as exc:
            p.error(f'--forced {exc}')
    if args.replay is None:
        _check_trace_dir(p, args.trace_dir)
    if _hunt_pytest.is_node_id(args.test_id) and (
            args.adapter or args.context_handles):
        p.error('--adapter and --context-handle load a unittest suite as '
                'python -m nova_fixtures.run does; a pytest test gets its '
                'fixtures from the pytest plugin')
    try:
        run_mod.check(p, argparse.Namespace(
            transport=args.transport, clock=None, deadlocks=args.deadlocks,
            schedule=None, schedule_strategy=None, tests=None, exclude=None,
            adapter=args.adapter, fake_compat=None,
            context_handles=args.context_handles), {})
    except run_mod.RunError as exc:  # pragma: no cover (check exits)
        p.error(str(exc))


def _check_trace_dir(p: argparse.ArgumentParser, path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        p.error(f'--trace-dir {path}: can\'t write there: '
                f'{exc.strerror}')


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    if argv is None:
        _relaunch(args)
    sys.path.insert(0, os.getcwd())
    try:
        if args.replay is not None:
            return replay(args)
        return hunt(args)
    except HuntError as exc:
        print(f'hunt: {exc}', file=sys.stderr)
        return 2


def _relaunch(args: argparse.Namespace) -> None:
    """Go on in a new Python that imports the test's module before this
    library (`nova_fixtures/_boot/_nova_fixtures_hunt.py`), as
    ``nova_fixtures.run`` does for a suite, with PYTHONHASHSEED=0 unless
    set: seeds replay only if sets and dicts of strings iterate alike in
    every run. Not under a debugger, which a new process would lose, nor
    in that new Python."""
    if os.environ.get(_BOOTED) or sys.gettrace() is not None:
        return
    env = run_mod.boot_environ(settings_of(args), os.environ)
    env.setdefault('PYTHONHASHSEED', '0')
    env[_BOOTED] = '1'
    env['NOVA_FIXTURES_HUNT_TEST'] = args.test_id
    env['NOVA_FIXTURES_TESTS'] = args.test_id
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, '-c',
                               'import _nova_fixtures_hunt'] + sys.argv[1:],
              env)


_BOOTED = 'NOVA_FIXTURES_HUNT_BOOTED'


if __name__ == '__main__':
    sys.exit(main())
