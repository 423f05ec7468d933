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

from nova_fixtures import fake_differences
from nova_fixtures import virtual_time

__all__ = ['RunError', 'RunSettings', 'main', 'set_up_fixtures']

BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_boot')
_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('', '0', 'false', 'no', 'off')


class RunError(ValueError):
    """A setting of ``nova_fixtures.run`` is not valid."""


def _flag(environ: dict[str, str] | os._Environ[str], name: str) -> bool:
    value = environ.get(name, '').strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RunError(f"{name}={environ[name]!r}: write 1 or 0 (or true, "
                   f"false, yes, no)")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What `set_up_fixtures` gives each selected test."""

    transport: str = ''
    clock: bool = False
    deadlocks: bool = False
    schedule: int | None = None
    schedule_strategy: str = ''
    tests: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    adapter: str = ''
    context_handles: tuple[str, ...] = ()
    fake_compat: bool = False

    def __post_init__(self) -> None:
        if self.schedule is not None and self.schedule < 0:
            raise RunError(f'schedule seed {self.schedule}: a seed is a '
                           f'whole number >= 0')
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
        if seed and not (seed.isascii() and seed.isdigit()):
            raise RunError(f'NOVA_FIXTURES_SCHEDULE {seed!r}: a seed is a '
                           f'whole number >= 0')
        return cls(
            transport=env.get('NOVA_FIXTURES_TRANSPORT', '').strip(),
            clock=_flag(env, 'NOVA_FIXTURES_CLOCK') or bool(seed),
            schedule=int(seed) if seed else None,
            schedule_strategy=env.get(
                'NOVA_FIXTURES_SCHEDULE_STRATEGY', '').strip(),
            deadlocks=_flag(env, 'NOVA_FIXTURES_DEADLOCKS'),
            tests=tuple(p for p in env.get('NOVA_FIXTURES_TESTS', '')
                        .split(',') if p),
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


def set_up_fixtures(test: unittest.TestCase,
                    settings: RunSettings | None = None) -> list[Any]:
    """Set up, on ``test``, the fixtures the settings ask for.

    In this order, so that each belongs to the one before: the clock, the
    deadlock detector, the ``fake:`` redirect (with the adapter's
    ``CONTEXT_HANDLES``).
    Cleaned up after everything the test itself registers.

    :returns: the fixtures set up.
    """
    from nova_fixtures import clock
    from nova_fixtures import deadlock
    from nova_fixtures import redirect

    settings = settings or RunSettings.from_environ()
    adapter = _adapter(settings.adapter)
    chosen: list[Any] = []
    if not _wants_real_time(test, settings):
        if settings.clock:
            chosen.append(clock.ClockFixture())
        if settings.deadlocks:
            chosen.append(deadlock.DeadlockFixture())
    if settings.transport == 'memory':
        chosen.append(redirect.FakeRedirectFixture(
            context_handles=tuple(settings.context_handles) + tuple(
                getattr(adapter, 'CONTEXT_HANDLES', ())), name=test.id()))
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
    parser.add_argument('--schedule', type=int, metavar='SEED',
                        help='run the threads of each test one at a time, '
                             'in the order SEED picks (implies --clock)')
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
        tests=tuple(args.tests) if args.tests else base.tests,
        exclude=base.exclude + tuple(args.exclude or ()),
        adapter=args.adapter or base.adapter,
        context_handles=base.context_handles + tuple(
            args.context_handles or ()),
        fake_compat=base.fake_compat if args.fake_compat is None
        else args.fake_compat)


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
    try:
        settings = _settings(args, os.environ)
    except RunError as exc:
        parser.error(str(exc))
    if args.fake_compat and settings.transport != 'memory':
        # NOTE(run): the variable alone may be set for every mode of a
        # tox.ini; the option says the user expects it to act.
        parser.error("--fake-compat keeps fake:'s behaviour on the memory "
                     "transport: give --transport memory too")
    if settings.adapter and '.' not in settings.adapter and \
            importlib.util.find_spec(
                f'nova_fixtures.adapters.{settings.adapter}') is None:
        parser.error(f'no adapter {settings.adapter!r} in '
                     f'nova_fixtures.adapters')
    env = dict(os.environ, **settings.environ())
    path = env.get('PYTHONPATH', '')
    env['PYTHONPATH'] = BOOT_DIR + (os.pathsep + path if path else '')
    sys.stdout.flush()
    sys.stderr.flush()
    if settings.transport == 'memory':
        return _run_and_report(command, env)
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        return _cannot_run(command, exc)
    return 0  # pragma: no cover (execvpe does not return)


def _cannot_run(command: list[str], exc: OSError) -> int:
    print(f'python -m nova_fixtures.run: can\'t run {command[0]!r}: '
          f'{exc.strerror}', file=sys.stderr)
    return 127


def _run_and_report(command: list[str], env: dict[str, str]) -> int:
    """Run ``command``, then print the fake: differences its tests met
    (`nova_fixtures.fake_differences`) on stderr; its exit status."""
    with tempfile.TemporaryDirectory(prefix='nova-fixtures-') as where:
        path = os.path.join(where, 'fake-differences')
        env = dict(env, **{fake_differences.FILE_VAR: path})
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            return _cannot_run(command, exc)
        try:
            returncode = child.wait()
        except KeyboardInterrupt:
            child.wait()
            raise
        report = fake_differences.render(fake_differences.read_report(path))
    if report:
        print(report, file=sys.stderr)
    return returncode


if __name__ == '__main__':
    sys.exit(main())
