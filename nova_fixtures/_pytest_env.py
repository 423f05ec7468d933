"""What the pytest plugin needs beyond its fixtures (`pytest_plugin`).

The record of a test's bus, the run-wide options (``--nova-clock``,
``--nova-deadlocks``, ``--nova-transport``) and their environment
variables, the `real_time` mark as pytest items carry it, the schedule a
test runs on, and the context manager of the ``expect_deadlock`` fixture.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, TYPE_CHECKING

from nova_fixtures import _args
from nova_fixtures import virtual_time

if TYPE_CHECKING:
    from fake_transport import broker as broker_mod
    from fake_transport import journal as journal_mod
    from nova_fixtures import transport as transport_mod

__all__ = ['BusRecord', 'DeadlockCaught', 'ExpectDeadlock', 'RunOptions',
           'is_real_time', 'run_options', 'schedule_of', 'schedule_text']


class BusRecord:
    """A bus of the test and what its journal held when it was cleaned up.

    The broker forgets its journal when the bus is discarded, so the
    entries are copied just before (no formatting: that waits for a failed
    report).
    """

    def __init__(self, bus: transport_mod.TransportFixture) -> None:
        self.url = bus.url
        self.broker: broker_mod.Broker | None = bus.broker
        self.entries: list[journal_mod.JournalEntry] | None = None
        self.recorded = 0

    def snapshot(self) -> None:
        if self.broker is not None:
            self.entries = self.broker.journal.entries()
            self.recorded = self.broker.journal.recorded

    def render(self) -> str:
        if self.broker is None:
            return ''
        if self.entries is None:
            return self.broker.journal.render()
        lines = [str(entry) for entry in self.entries]
        if self.recorded > len(lines):
            lines.insert(0, f'({self.recorded - len(lines)} earlier '
                            f'entries not kept)')
        return '\n'.join(lines)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What every test of the pytest run gets, as
    ``python -m nova_fixtures.run`` gives the tests of a stestr run."""

    clock: bool = False
    deadlocks: bool = False
    transport: str = ''

    @property
    def any(self) -> bool:
        return self.clock or self.deadlocks or bool(self.transport)


def _flag(option: bool | None, switch: str,
          environ: Mapping[str, str], name: str) -> bool:
    if option is not None:
        return option
    return _args.env_flag(environ, name, read_for=switch)


def run_options(clock: bool | None, deadlocks: bool | None,
                transport: str | None,
                environ: Mapping[str, str] | None = None) -> RunOptions:
    """The run-wide options: each command-line value, else its
    ``NOVA_FIXTURES_*`` variable (``NOVA_FIXTURES_SCHEDULE``, set by the
    hunt, implies the clock).

    :raises ValueError: a value is not valid; the message names the option
        or the variable, and the value.
    """
    env = os.environ if environ is None else environ
    if transport is None:
        where = 'NOVA_FIXTURES_TRANSPORT'
        transport = env.get(where, '').strip()
        shown = f'{where}={transport!r}'
    else:
        shown = f'--nova-transport {transport!r}'
    if transport not in ('', 'memory'):
        raise ValueError(f"{shown}: the only transport to redirect fake: "
                         f"to is 'memory'")
    # NOTE(pytest): as in nova_fixtures.run, a schedule asked for (by the
    # hunt) implies the clock it runs on, which attaches it.
    scheduled = clock is None and bool(
        env.get('NOVA_FIXTURES_SCHEDULE', '').strip())
    return RunOptions(
        clock=_flag(clock, '--nova-clock', env, 'NOVA_FIXTURES_CLOCK') or
        scheduled,
        deadlocks=_flag(deadlocks, '--nova-deadlocks', env,
                        'NOVA_FIXTURES_DEADLOCKS'),
        transport=transport)


def is_real_time(item: Any) -> bool:
    """Whether `virtual_time.real_time` marks the test function or class
    of the pytest ``item``."""
    # NOTE(pytest): the mark is an attribute of the function or of the
    # class (inherited by subclasses); virtual_time.is_real_time reads it
    # off a unittest.TestCase instance, which a pytest test function is
    # not.
    mark = virtual_time._REAL_TIME
    return bool(getattr(getattr(item, 'cls', None), mark, False) or
                getattr(getattr(item, 'function', None), mark, False))


def schedule_of(clock: Any) -> Any:
    """The `ScheduleFixture` a ``python -m nova_fixtures.hunt`` run (or
    ``NOVA_FIXTURES_SCHEDULE``) attached to ``clock`` as it was set up, or
    None."""
    from nova_fixtures import schedule as schedule_mod

    # NOTE(pytest): the schedule module puts it on the clock with
    # useFixture, which keeps it among the clock's detail sources only.
    for fixture in getattr(clock, '_detail_sources', None) or ():
        if isinstance(fixture, schedule_mod.ScheduleFixture):
            return fixture
    return None


def schedule_text(schedule: Any) -> str:
    """What a `ScheduleFixture` did (its seed first), complete once it
    is cleaned up."""
    from nova_fixtures import schedule as schedule_mod

    try:
        return str(schedule.result().summary())
    except schedule_mod.ScheduleError:
        return f'seed {schedule.seed} ({schedule.strategy}): running'


@dataclasses.dataclass
class DeadlockCaught:
    """What ``with expect_deadlock() as caught:`` caught.

    :ivar reports: the deadlock reports of the block, each naming the
        threads and the locks of one cycle (or the blocked threads).
    :ivar exception: the `DeadlockError` the block raised, else one with
        the reports' text (raised in a thread of the block, or by the
        detector's cleanup).
    """

    reports: list[str] = dataclasses.field(default_factory=list)
    exception: BaseException | None = None

    @property
    def report(self) -> str:
        """The reports, one text."""
        return '\n\n'.join(self.reports)


class ExpectDeadlock:
    """A with block that must deadlock; see ``expect_deadlock``."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.caught = DeadlockCaught()
        self._own: Any = None
        self._bubble: Any = None
        self._first = 0
        self._first_inversion = 0

    def __enter__(self) -> DeadlockCaught:
        from nova_fixtures import clock as clock_mod
        from nova_fixtures import deadlock as deadlock_mod

        bubble = clock_mod.active_bubble()
        if bubble is None or not bubble.detect:
            self._own = deadlock_mod.DeadlockFixture(**self.kwargs)
            self._own.setUp()
            bubble = self._own.bubble
        elif self.kwargs:
            raise TypeError(
                f'expect_deadlock({", ".join(sorted(self.kwargs))}=...): '
                f'the test already runs under a DeadlockFixture, whose '
                f'arguments hold; give none')
        self._bubble = bubble
        with bubble.mutex:
            self._first = len(bubble.deadlocks)
            graph = bubble.lockdep
            self._first_inversion = len(graph.reports) if graph else 0
        return self.caught

    def __exit__(self, exc_type: Any, exc: BaseException | None,
                 tb: Any) -> bool:
        from nova_fixtures import deadlock as deadlock_mod

        bubble = self._bubble
        if self._own is not None:
            try:
                self._own.cleanUp()
            except deadlock_mod.DeadlockError:
                pass  # NOTE(pytest): its reports are read below.
        with bubble.mutex:
            # NOTE(pytest): expected, so taken off a detector that goes
            # on, lest its cleanup fail the test: the cycle's reports, and
            # the lock-order inversion the cycle is.
            reports = bubble.take_reports(self._first,
                                          self._first_inversion)
        caught = self.caught
        raised = exc if isinstance(exc, deadlock_mod.DeadlockError) else None
        if raised is not None and not reports:
            reports = [str(raised)]
        caught.reports = reports
        if reports:
            caught.exception = raised or deadlock_mod.DeadlockError(
                caught.report)
        if exc is not None and raised is None:
            return False
        if not reports:
            import pytest

            pytest.fail('expect_deadlock: the with block ended and the '
                        'deadlock detector reported no deadlock in it',
                        pytrace=False)
        return True
