"""Run an existing test suite unedited on memory://, virtual time, or both.

Usage::

    python -m nova_fixtures.run [--transport memory] [--clock] [--deadlocks]
        [--schedule SEED [--schedule-strategy pct|random]]
        [--tests PREFIX ...] [--exclude REGEX ...] [--adapter NAME]
        [--context-handle KEY ...] [--fake-compat] -- <command>

for instance ``python -m nova_fixtures.run --transport memory --clock --
stestr run``. The options become environment variables (each can be given
that way instead, so a ``tox.ini`` can ``setenv`` them), the directory of a
start-up hook goes first on ``PYTHONPATH``, and the command replaces this
process (with ``--transport memory``, it runs as a child, so that the
``fake:`` differences report can follow it). In each Python the command
starts, the hook (see ``nova_fixtures/_boot/sitecustomize.py``) makes
every test the test loader returns whose id starts with a ``--tests``
prefix set up, before its own ``setUp``, the fixtures `set_up_fixtures`
chooses:

* ``--transport memory`` (``NOVA_FIXTURES_TRANSPORT=memory``): a
  `FakeRedirectFixture`: every ``fake:`` transport the test opens goes to a
  fresh ``memory://`` bus of its own, forgotten at cleanup.
* ``--clock`` (``NOVA_FIXTURES_CLOCK=1``): a `ClockFixture`.
* ``--deadlocks`` (``NOVA_FIXTURES_DEADLOCKS=1``): a `DeadlockFixture`.
* ``--schedule SEED`` (``NOVA_FIXTURES_SCHEDULE=SEED``, with
  ``NOVA_FIXTURES_SCHEDULE_STRATEGY``): the clock, and every clock set up
  in those processes, runs its threads one at a time in the order the seed
  picks (`nova_fixtures.schedule.ScheduleFixture`).
* ``--exclude REGEX`` (``NOVA_FIXTURES_EXCLUDE``, one regex per line) and
  the `nova_fixtures.virtual_time.real_time` decorator: tests that need
  real time (they wait for a subprocess, say) run without the clock and
  the deadlock detector.
* ``--adapter NAME`` (``NOVA_FIXTURES_ADAPTER``): a module of
  ``nova_fixtures.adapters`` (or a dotted path) naming what one suite needs
  beyond this: the ``CONTEXT_HANDLES`` its RPC contexts carry (see
  `nova_fixtures.adapters.nova`).
* ``--context-handle KEY`` (``NOVA_FIXTURES_CONTEXT_HANDLES``,
  comma-separated): context keys passed by handle on the bus.
* The ``fake:`` differences report: with ``--transport memory``, each
  place a test relied on ``fake:`` doing what rabbit does not is listed on
  stderr at the end of the run, a line per (test, behaviour, what rabbit
  does); see `nova_fixtures.fake_differences`. ``--fake-compat``
  (``NOVA_FIXTURES_FAKE_COMPAT=1``) keeps ``fake:``'s behaviour there.

Nothing of this library is imported in those processes before the first
wrapped test's ``setUp``, by which time the loader has imported the test
modules and with them the suite's own bootstrap.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import types
import unittest
from typing import Any, Sequence

from nova_fixtures import _args
from nova_fixtures import _strategies
from nova_fixtures import fake_differences
from nova_fixtures import virtual_time

__all__ = ['RunError', 'RunSettings', 'check', 'fixtures_for', 'main',
           'set_up_fixtures']

BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_boot')
# NOTE(run): the file where each Python of the command lists the --tests
# prefixes that selected a test (`nova_fixtures/_boot/sitecustomize.py`).
SEEN_VAR = 'NOVA_FIXTURES_TESTS_SEEN'


class RunError(ValueError):
    """A setting of ``nova_fixtures.run`` is not valid."""


def _flag(environ: dict[str, str] | os._Environ[str], name: str) -> bool:
    try:
        return _args.env_flag(environ, name)
    except ValueError as exc:
        raise RunError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What `set_up_fixtures` gives each selected test."""

    transport: str = ''
    clock: bool = False
    deadlocks: bool = False
    schedule: int | str | None = None
    schedule_strategy: str = ''
    tests: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    adapter: str = ''
    context_handles: tuple[str, ...] = ()
    fake_compat: bool = False

    def __post_init__(self) -> None:
        if self.schedule is not None:
            try:
                named = _strategies.parse(str(self.schedule))
                _strategies.check(named)
            except ValueError as exc:
                raise RunError(str(exc)) from None
            if self.schedule_strategy and named.get(
                    'strategy', self.schedule_strategy) != \
                    self.schedule_strategy:
                raise RunError(
                    f'schedule {self.schedule!r} names its strategy '
                    f'({named["strategy"]!r}); strategy '
                    f'{self.schedule_strategy!r} asks for another '
                    f'schedule: give one or the other')
        if self.schedule_strategy not in ('', 'random', 'pct'):
            raise RunError(f"schedule strategy {self.schedule_strategy!r}: "
                           f"choose 'random' or 'pct'")
        if self.transport not in ('', 'memory'):
            raise RunError(
                f"transport {self.transport!r}: the only transport to "
                f"redirect fake: to is 'memory'")
        for pattern in self.exclude:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RunError(
                    f"exclude {pattern!r} is not a regular expression: "
                    f"{exc}") from None
        for key in self.context_handles:
            if not key.isidentifier():
                raise RunError(f"context handle {key!r} is not a context "
                               f"key (a Python identifier)")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | os._Environ[str]
                     | None = None) -> 'RunSettings':
        """Read the ``NOVA_FIXTURES_*`` variables."""
        env = os.environ if environ is None else environ
        seed = env.get('NOVA_FIXTURES_SCHEDULE', '').strip()
        return cls(
            transport=env.get('NOVA_FIXTURES_TRANSPORT', '').strip(),
            clock=_flag(env, 'NOVA_FIXTURES_CLOCK') or bool(seed),
            schedule=(int(seed) if seed.isascii() and seed.isdigit()
                      else seed) if seed else None,
            schedule_strategy=env.get(
                'NOVA_FIXTURES_SCHEDULE_STRATEGY', '').strip(),
            deadlocks=_flag(env, 'NOVA_FIXTURES_DEADLOCKS'),
            tests=tuple(p.strip() for p in env.get('NOVA_FIXTURES_TESTS', '')
                        .split(',') if p.strip()),
            exclude=tuple(p for p in env.get('NOVA_FIXTURES_EXCLUDE', '')
                          .splitlines() if p),
            adapter=env.get('NOVA_FIXTURES_ADAPTER', '').strip(),
            context_handles=tuple(
                k.strip() for k in
                env.get('NOVA_FIXTURES_CONTEXT_HANDLES', '').split(',')
                if k.strip()),
            fake_compat=_flag(env, fake_differences.COMPAT_VAR))

    def environ(self) -> dict[str, str]:
        """The variables that carry these settings to child processes."""
        return {
            'NOVA_FIXTURES_RUN': '1',
            'NOVA_FIXTURES_TRANSPORT': self.transport,
            'NOVA_FIXTURES_CLOCK': '1' if self.clock else '0',
            'NOVA_FIXTURES_DEADLOCKS': '1' if self.deadlocks else '0',
            'NOVA_FIXTURES_SCHEDULE': '' if self.schedule is None
            else str(self.schedule),
            'NOVA_FIXTURES_SCHEDULE_STRATEGY': self.schedule_strategy,
            'NOVA_FIXTURES_TESTS': ','.join(self.tests),
            'NOVA_FIXTURES_EXCLUDE': '\n'.join(self.exclude),
            'NOVA_FIXTURES_ADAPTER': self.adapter,
            'NOVA_FIXTURES_CONTEXT_HANDLES': ','.join(self.context_handles),
            fake_differences.COMPAT_VAR: '1' if self.fake_compat else '0',
        }


def _adapter(name: str) -> types.ModuleType | None:
    if not name:
        return None
    module = name if '.' in name else f'nova_fixtures.adapters.{name}'
    return importlib.import_module(module)


def _wants_real_time(test: unittest.TestCase,
                     settings: RunSettings) -> bool:
    return virtual_time.is_real_time(test) or any(
        re.search(p, test.id()) for p in settings.exclude)


def fixtures_for(test: Any, settings: RunSettings) -> list[Any]:
    """The fixtures the settings give ``test`` (anything with ``id()``),
    not set up yet, in the order to set them up: the clock, the deadlock
    detector, the ``fake:`` redirect (with the adapter's
    ``CONTEXT_HANDLES``)."""
    from nova_fixtures import clock
    from nova_fixtures import deadlock
    from nova_fixtures import redirect

    adapter = _adapter(settings.adapter)
    chosen: list[Any] = []
    if not (isinstance(test, unittest.TestCase) and
            _wants_real_time(test, settings)):
        if settings.clock:
            chosen.append(clock.ClockFixture())
        if settings.deadlocks:
            chosen.append(deadlock.DeadlockFixture())
    if settings.transport == 'memory':
        chosen.append(redirect.FakeRedirectFixture(
            context_handles=tuple(settings.context_handles) + tuple(
                getattr(adapter, 'CONTEXT_HANDLES', ())), name=test.id()))
    return chosen


def set_up_fixtures(test: unittest.TestCase,
                    settings: RunSettings | None = None) -> list[Any]:
    """Set up, on ``test``, the fixtures the settings ask for
    (`fixtures_for`), cleaned up after everything the test itself
    registers.

    :returns: the fixtures set up.
    """
    settings = settings or RunSettings.from_environ()
    chosen = fixtures_for(test, settings)
    virtual_time.use_fixtures(test, lambda: chosen)
    return chosen


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m nova_fixtures.run',
        description='Run a test command with its fake: transports on '
                    'memory://, on virtual time, or under the deadlock '
                    'detector, without editing the suite.')
    parser.add_argument('--transport', choices=['memory'],
                        help='redirect fake: transports to memory://')
    parser.add_argument('--clock', action='store_true', default=None,
                        help='run each test on a ClockFixture')
    parser.add_argument('--deadlocks', action='store_true', default=None,
                        help='run each test under a DeadlockFixture')
    parser.add_argument('--schedule', metavar='SEED',
                        help='run the threads of each test one at a time, '
                             'in the order SEED (a seed, or a token the '
                             'hunt printed) picks (implies --clock)')
    parser.add_argument('--schedule-strategy', choices=['random', 'pct'],
                        help='how the schedule picks (default pct)')
    parser.add_argument('--tests', action='append', metavar='PREFIX',
                        help='wrap only tests whose id starts with PREFIX '
                             '(repeatable; default: all)')
    parser.add_argument('--exclude', action='append', metavar='REGEX',
                        help='tests whose id matches run in real time, '
                             'without clock or detector (repeatable)')
    parser.add_argument('--adapter', metavar='NAME',
                        help='what a suite needs beyond the library, as '
                             'a module of nova_fixtures.adapters')
    parser.add_argument('--fake-compat', action='store_true', default=None,
                        help="with --transport memory: keep fake:'s "
                             "behaviour where it differs from rabbit's "
                             "(each place is still reported)")
    parser.add_argument('--context-handle', action='append', metavar='KEY',
                        dest='context_handles',
                        help='pass this context key by handle (repeatable)')
    parser.add_argument('command', nargs=argparse.REMAINDER,
                        help='-- and the command to run')
    return parser


def _settings(args: argparse.Namespace,
              environ: dict[str, str] | os._Environ[str]) -> RunSettings:
    base = RunSettings.from_environ(environ)
    schedule = base.schedule if args.schedule is None else args.schedule
    return RunSettings(
        transport=args.transport or base.transport,
        clock=(base.clock if args.clock is None else args.clock) or
        schedule is not None,
        schedule=schedule,
        schedule_strategy=args.schedule_strategy or base.schedule_strategy,
        deadlocks=base.deadlocks if args.deadlocks is None
        else args.deadlocks,
        tests=tuple(p.strip() for t in args.tests for p in t.split(',')
                    if p.strip()) if args.tests else base.tests,
        exclude=base.exclude + tuple(args.exclude or ()),
        adapter=args.adapter or base.adapter,
        context_handles=base.context_handles + tuple(
            args.context_handles or ()),
        fake_compat=base.fake_compat if args.fake_compat is None
        else args.fake_compat)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace,
          environ: dict[str, str] | os._Environ[str]) -> RunSettings:
    """The settings of ``args`` over ``environ``, each checked, so that a
    bad one stops the run before its command starts (not in every test);
    a bad one is a usage error (exit status 2) naming it."""
    from nova_fixtures import schedule as schedule_mod

    try:
        settings = _settings(args, environ)
    except RunError as exc:
        parser.error(str(exc))
    if args.fake_compat and settings.transport != 'memory':
        # NOTE(run): the variable alone may be set for every mode of a
        # tox.ini; the option says the user expects it to act.
        parser.error("--fake-compat keeps fake:'s behaviour on the memory "
                     "transport: give --transport memory too")
    if settings.schedule_strategy and settings.schedule is None:
        parser.error('--schedule-strategy picks how a schedule runs: give '
                     '--schedule SEED too')
    if settings.adapter:
        _check_adapter(parser, settings.adapter)
    try:
        schedule_mod.requested(dict(environ, **settings.environ()))
    except (schedule_mod.ScheduleError, ValueError) as exc:
        parser.error(str(exc))
    return settings


def _check_adapter(parser: argparse.ArgumentParser, name: str) -> None:
    if '.' not in name:
        if importlib.util.find_spec(
                f'nova_fixtures.adapters.{name}') is None:
            parser.error(f'no adapter {name!r} in nova_fixtures.adapters')
        return
    try:
        _adapter(name)
    except Exception as exc:
        parser.error(f'--adapter {name}: can\'t import it: '
                     f'{type(exc).__name__}: {exc}')


def main(argv: Sequence[str] | None = None) -> int:
    """Check the settings, then replace this process with the command."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = list(args.command)
    if command[:1] == ['--']:
        command = command[1:]
    if not command:
        parser.error('no command to run: write it after --, as in '
                     '"python -m nova_fixtures.run --clock -- stestr run"')
    settings = check(parser, args, os.environ)
    env = boot_environ(settings, os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    if settings.transport == 'memory' or settings.tests:
        return _run_and_report(command, env, settings)
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        return _cannot_run(command, exc)
    return 0  # pragma: no cover (execvpe does not return)


def boot_environ(settings: RunSettings,
                 environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """``environ`` with the variables that carry ``settings`` and with
    the start-up hook (`BOOT_DIR`) first on ``PYTHONPATH``: the
    environment of a command, or of the hunt's new Python, that loads
    tests the way this entry point does."""
    env = dict(environ, **settings.environ())
    path = env.get('PYTHONPATH', '')
    env['PYTHONPATH'] = BOOT_DIR + (os.pathsep + path if path else '')
    return env


def _cannot_run(command: list[str], exc: OSError) -> int:
    print(f'python -m nova_fixtures.run: can\'t run {command[0]!r}: '
          f'{exc.strerror}', file=sys.stderr)
    return 127


def _run_and_report(command: list[str], env: dict[str, str],
                    settings: RunSettings) -> int:
    """Run ``command``, then say on stderr what its tests met: the fake:
    differences (`nova_fixtures.fake_differences`), and each ``--tests``
    prefix that matched no test (exit status 2 if the command passed)."""
    with tempfile.TemporaryDirectory(prefix='nova-fixtures-') as where:
        path = os.path.join(where, 'fake-differences')
        seen_path = os.path.join(where, 'tests-seen')
        env = dict(env, **{fake_differences.FILE_VAR: path,
                           SEEN_VAR: seen_path})
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            return _cannot_run(command, exc)
        try:
            returncode = child.wait()
        except KeyboardInterrupt:
            child.wait()
            raise
        report = ''
        if settings.transport == 'memory':
            report = fake_differences.render(
                fake_differences.read_report(path))
        seen = _read_seen(seen_path)
    if report:
        print(report, file=sys.stderr)
    unmatched = [p for p in settings.tests if p not in seen]
    if unmatched:
        print(f'python -m nova_fixtures.run: --tests '
              f'{", ".join(map(repr, unmatched))} matched no test the '
              f'command loaded', file=sys.stderr)
        return returncode or 2
    return returncode


def _read_seen(path: str) -> set[str]:
    try:
        with open(path) as f:
            return {line.rstrip('\n') for line in f}
    except FileNotFoundError:
        return set()


if __name__ == '__main__':
    sys.exit(main())
