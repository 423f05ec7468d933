"""The pytest plugin: this library's fixtures as pytest fixtures and markers.

Caution: pytest loads it (entry point ``pytest11``, name
``nova_fixtures``) in every session of an environment where nova-fixtures
is installed, and loading it imports the ``nova_fixtures`` package, which
selects oslo.service's threading backend. Disable it with ``-p
no:nova_fixtures``. Nothing else happens until a test asks for one of the
fixtures below; the fixtures themselves are imported then.

Fixtures (each per test, cleaned up after it; each one's docstring, shown
by ``pytest --fixtures``, gives its arguments and what it returns; the
guide is ``doc/source/pytest.rst``): ``bus``, ``make_bus``,
``start_service``, ``notifications``, ``clock``, ``deadlocks``,
``schedule``, ``expect_deadlock``, ``fake_redirect``, ``use_fixture``.
Markers: ``nova_clock``, ``nova_deadlocks``, ``nova_schedule``,
``nova_thread_leaks``. Options for every test of a run (as ``python -m
nova_fixtures.run`` gives stestr): ``--nova-clock``, ``--nova-deadlocks``,
``--nova-transport memory``, or ``NOVA_FIXTURES_CLOCK=1``,
``NOVA_FIXTURES_DEADLOCKS=1``, ``NOVA_FIXTURES_TRANSPORT=memory``.

A test that uses any fixture (or carries one of the markers) also gets a
`NoEventletFixture` and a `ThreadLeakFixture`, set up first so that its
check runs after every other cleanup: a leaked thread makes the test's
teardown fail with `ThreadLeak`'s message.
``@pytest.mark.nova_thread_leaks(check=False)`` turns the check off; other
keyword arguments go to `ThreadLeakFixture` (``grace``, ``ignore``).

When such a test fails (setup, call or teardown), the report gets the
sections ``fake-transport:journal <url>`` (one per bus),
``nova-fixtures:clock`` and ``nova-fixtures:deadlocks``.

pytest-timeout (2.1 or newer): a test that uses the library and times out
gets a hang report (`nova_fixtures.hang`: every thread's stack, the locks
test threads hold and wait for, the messages in flight on the test's
buses, the clock), taken while the stuck threads are still stuck:

* ``timeout_method=signal`` (pytest-timeout fails the test with ``Failed:
  Timeout (>2.0s) from pytest-timeout.``; 1.x's ``Timeout >2.0s`` too):
  the report section ``nova-fixtures:hang-report``, the main thread shown
  where the timeout interrupted it.
* ``timeout_method=thread`` (pytest-timeout dumps the stacks and ends the
  process with ``os._exit(1)``): the report is written to the terminal,
  under ``+ nova-fixtures:hang-report <test id> +``, just before
  pytest-timeout's own ``Timeout`` dump. The plugin implements
  pytest-timeout's ``pytest_timeout_set_timer`` hook for the tests that
  use the library: pytest-timeout's timer, writing the report first.

Then the test is over, and its teardown waits for nothing it left stuck:
every RPC call still waiting for a reply on a ``memory://`` bus ends at
once with ``MessagingTimeout`` (``... the test timed out; the test is
over``), so the handlers blocked in one unwind and the services stop
without waiting the calls' timeouts out; the thread-leak check neither
waits its grace for threads still running nor fails the test a second time
(it logs them as a warning). The same holds after the clock's virtual time
budget ran out: ``ClockError`` is the test's only error.

Error messages that tell how to change a setting name the marker, for the
fixtures the plugin sets up: ``virtual time budget of 3600 s exceeded ...;
raise it with @pytest.mark.nova_clock(max_virtual=...)``.

Example::

    @pytest.mark.nova_clock()
    def test_reboot(bus, start_service):
        start_service(Compute(), 'compute', 'c1')
        bus.rpc_client('compute', 'c1').call({}, 'reboot')
"""

from __future__ import annotations

import types
from typing import Any, Callable, Iterator, TYPE_CHECKING, TypeVar

import pytest

from nova_fixtures import _pytest_env

if TYPE_CHECKING:
    from nova_fixtures import clock as clock_mod
    from nova_fixtures import deadlock as deadlock_mod
    from nova_fixtures import schedule as schedule_mod
    from nova_fixtures import services as services_mod
    from nova_fixtures import transport as transport_mod

__all__ = ['pytest_addoption', 'pytest_configure',
           'pytest_runtest_makereport', 'pytest_terminal_summary',
           'pytest_timeout_set_timer']

# NOTE(pytest): the fixtures added with the guide (doc/source/pytest.rst),
# kept apart to keep this module small; registered with this plugin.
pytest_plugins = ('nova_fixtures._pytest_fixtures',)

_MARKERS = (
    'nova_clock(**kwargs): run the test on a nova_fixtures.ClockFixture '
    '(virtual time) made with these arguments, set up before its buses '
    'and services.',
    'nova_deadlocks(**kwargs): run the test under a '
    'nova_fixtures.DeadlockFixture made with these arguments.',
    'nova_thread_leaks(check=True, **kwargs): check=False turns off the '
    'thread-leak check of tests using nova_fixtures fixtures; other '
    'arguments go to nova_fixtures.ThreadLeakFixture.',
    'nova_schedule(**kwargs): run the test\'s threads one at a time on a '
    'nova_fixtures.ScheduleFixture made with these arguments (seed=... at '
    'least), on the test\'s clock.',
)


def _wanted(item: Any, marker_name: str,
            requested: bool) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """A fixture's (args, kwargs) from its marker, ((), {}) if only
    requested, None if the test neither marks nor requests it."""
    marker = item.get_closest_marker(marker_name)
    if marker is not None:
        return tuple(marker.args), dict(marker.kwargs)
    return ((), {}) if requested else None


_F = TypeVar('_F')


def _hinted(fixture: _F, marker: str) -> _F:
    """``fixture``, whose error messages name ``marker`` as the way to
    change its settings (`nova_fixtures._hints`)."""
    from nova_fixtures import _hints

    _hints.set_up_by_marker(fixture, marker)
    return fixture


class _Env:
    """The library's fixtures for one pytest test, in `TestCase` order.

    Every fixture is used through one root `fixtures.Fixture`, so cleanup
    runs in reverse order of setup: services and buses, then deadlocks and
    the clock, then the eventlet guard, then the thread-leak check.
    """

    def __init__(self, item: pytest.Item, wants_clock: bool,
                 wants_deadlocks: bool, wants_schedule: bool = False,
                 run: _pytest_env.RunOptions | None = None) -> None:
        import fixtures

        from nova_fixtures import _abandon
        from nova_fixtures import clock as clock_mod
        from nova_fixtures import deadlock as deadlock_mod
        from nova_fixtures import eventlet_guard
        from nova_fixtures import threads

        from nova_fixtures import fake_differences

        # NOTE(pytest): a new test: not abandoned (after a timeout).
        _abandon.clear()
        self.nodeid = item.nodeid
        self.first_difference = fake_differences.count()
        self.redirect: Any = None
        self.buses: list[_pytest_env.BusRecord] = []
        self.clock: clock_mod.ClockFixture | None = None
        self.deadlocks: deadlock_mod.DeadlockFixture | None = None
        self.schedule: schedule_mod.ScheduleFixture | None = None
        self.clock_text = ''
        self.deadlocks_text = ''
        self.schedule_text = ''
        run = run or _pytest_env.RunOptions()
        # NOTE(pytest): a test the run-wide options alone bring here gets
        # what nova_fixtures.run gives a stestr test, no thread-leak check.
        explicit = '_nova_env' in getattr(item, 'fixturenames', ()) or \
            _has_marker(item)
        virtual = not _pytest_env.is_real_time(item)
        self.root: fixtures.Fixture = fixtures.Fixture()
        self.root.setUp()
        try:
            leaks = item.get_closest_marker('nova_thread_leaks')
            leak_kw = dict(leaks.kwargs) if leaks is not None else {}
            if explicit and leak_kw.pop('check', True):
                self.root.useFixture(_hinted(
                    threads.ThreadLeakFixture(**leak_kw), 'nova_thread_leaks'))
            if explicit:
                self.root.useFixture(eventlet_guard.NoEventletFixture())
            schedule = _wanted(item, 'nova_schedule', wants_schedule)
            wanted = _wanted(item, 'nova_clock', wants_clock or (
                run.clock and virtual) or schedule is not None)
            if wanted is not None:
                self.clock = self.root.useFixture(_hinted(
                    clock_mod.ClockFixture(*wanted[0], **wanted[1]),
                    'nova_clock'))
                self.root.addCleanup(self._snapshot_clock)
            if schedule is not None:
                self._use_schedule(*schedule)
            wanted = _wanted(item, 'nova_deadlocks', wants_deadlocks or (
                run.deadlocks and virtual))
            if wanted is not None:
                self.deadlocks = self.root.useFixture(_hinted(
                    deadlock_mod.DeadlockFixture(*wanted[0], **wanted[1]),
                    'nova_deadlocks'))
                self.root.addCleanup(self._snapshot_deadlocks)
            if run.transport == 'memory':
                self.use_fake_redirect()
        except BaseException:
            self.root.cleanUp()
            raise

    def _use_schedule(self, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> None:
        from nova_fixtures import schedule as schedule_mod

        assert self.clock is not None
        # NOTE(pytest): a schedule the hunt (or NOVA_FIXTURES_SCHEDULE)
        # asked for is on the clock already, and takes the marker's place,
        # as in nova_fixtures.TestCase.
        self.schedule = _pytest_env.schedule_of(self.clock)
        if self.schedule is None:
            if not args:
                kwargs.setdefault('seed', 0)
            made = schedule_mod.ScheduleFixture(*args, **kwargs)
            # NOTE(pytest): registered first, so it runs once the schedule
            # is cleaned up and its result (the seed to replay) complete.
            self.root.addCleanup(self._snapshot_schedule, made)
            self.schedule = self.root.useFixture(made)

    def _snapshot_schedule(self, made: Any) -> None:
        self.schedule_text = _pytest_env.schedule_text(made)

    def _snapshot_clock(self) -> None:
        assert self.clock is not None
        self.clock_text = self.clock.render()

    def _snapshot_deadlocks(self) -> None:
        assert self.deadlocks is not None
        self.deadlocks_text = self.deadlocks.render()

    def use_bus(self, name: str | None = None,
                **kwargs: Any) -> transport_mod.TransportFixture:
        from nova_fixtures import transport as transport_mod

        bus = self.root.useFixture(
            transport_mod.TransportFixture(name=name, **kwargs))
        record = _pytest_env.BusRecord(bus)
        self.buses.append(record)
        # NOTE(pytest): registered after the bus, so it runs before the bus
        # is discarded and after the services started on it stopped.
        self.root.addCleanup(record.snapshot)
        return bus

    def use_fake_redirect(self, **kwargs: Any) -> Any:
        from nova_fixtures import redirect

        if self.redirect is not None and not kwargs:
            return self.redirect
        kwargs.setdefault('name', self.nodeid)
        self.redirect = self.root.useFixture(
            redirect.FakeRedirectFixture(**kwargs))
        return self.redirect

    def differences(self) -> str:
        """The fake: differences this test met, a line each."""
        from nova_fixtures import fake_differences

        return fake_differences.render(
            [d.line() for d in fake_differences.since(self.first_difference)
             if d.test == self.nodeid])

    def sections(self, timed_out: bool,
                 interrupted: types.TracebackType | None = None
                 ) -> list[tuple[str, str]]:
        found = []
        if timed_out:
            from nova_fixtures import hang

            found.append(('nova-fixtures:hang-report',
                          hang.hang_report(self.bus_views(), interrupted)))
        for record in self.buses:
            found.append((f'fake-transport:journal {record.url}',
                          record.render()))
        if self.clock is not None:
            found.append(('nova-fixtures:clock',
                          self.clock_text or self._render(self.clock)))
        if self.deadlocks is not None:
            found.append(('nova-fixtures:deadlocks', self.deadlocks_text or
                          self._render(self.deadlocks)))
        if self.schedule is not None:
            found.append(('nova-fixtures:schedule', self.schedule_text or
                          _pytest_env.schedule_text(self.schedule)))
        return found

    def bus_views(self) -> list[Any]:
        return [_BusView(record) for record in self.buses]

    @staticmethod
    def _render(fixture: Any) -> str:
        try:
            return str(fixture.render())
        except Exception:  # cleaned up: nothing left to show
            return ''


class _BusView:
    """What `hang_report` reads of a bus: ``url`` and ``broker``."""

    def __init__(self, record: _pytest_env.BusRecord) -> None:
        self.url = record.url
        self.broker = record.broker


_ENV = pytest.StashKey[_Env]()
# NOTE(pytest): the fake: differences recorded before the session.
_FIRST_DIFFERENCE = pytest.StashKey[int]()
# NOTE(pytest): the tests of the session that used the library's fixtures.
_NODEIDS = pytest.StashKey[set[str]]()


# NOTE(pytest): the run-wide options, read once per session.
_RUN = pytest.StashKey[_pytest_env.RunOptions]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        'nova_fixtures', 'nova-fixtures: every test of the run on')
    group.addoption(
        '--nova-clock', action='store_true', default=None,
        help='a ClockFixture (virtual time), but tests marked '
             'nova_fixtures.virtual_time.real_time (NOVA_FIXTURES_CLOCK=1)')
    group.addoption(
        '--nova-deadlocks', action='store_true', default=None,
        help='a DeadlockFixture, but tests marked real_time '
             '(NOVA_FIXTURES_DEADLOCKS=1)')
    group.addoption(
        '--nova-transport', metavar='memory', default=None,
        help="'memory': a FakeRedirectFixture, its fake: transports on a "
             "memory:// bus of its own (NOVA_FIXTURES_TRANSPORT=memory)")


def pytest_configure(config: pytest.Config) -> None:
    from nova_fixtures import fake_differences

    for line in _MARKERS:
        config.addinivalue_line('markers', line)
    config.stash[_FIRST_DIFFERENCE] = fake_differences.count()
    config.stash[_NODEIDS] = set()
    try:
        config.stash[_RUN] = _pytest_env.run_options(
            config.getoption('nova_clock', None),
            config.getoption('nova_deadlocks', None),
            config.getoption('nova_transport', None))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _has_marker(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in
               ('nova_clock', 'nova_deadlocks', 'nova_schedule'))


@pytest.fixture(autouse=True)
def _nova_markers(request: pytest.FixtureRequest) -> None:
    """Set the library up for a marked test that asks for no fixture of it,
    and for every test of a run with ``--nova-*`` options."""
    run = request.config.stash.get(_RUN, None)
    if _has_marker(request.node) or (run is not None and run.any):
        request.getfixturevalue('_nova_env')


@pytest.fixture
def _nova_env(request: pytest.FixtureRequest) -> Iterator[_Env]:
    names = request.fixturenames
    item = request.node
    env = _Env(item, 'clock' in names, 'deadlocks' in names,
               'schedule' in names, request.config.stash.get(_RUN, None))
    item.stash[_ENV] = env
    request.config.stash.get(_NODEIDS, set()).add(item.nodeid)
    yield env
    env.root.cleanUp()


@pytest.fixture
def clock(_nova_env: _Env) -> clock_mod.ClockFixture:
    """Returns the test's `ClockFixture` (virtual time), set up before its
    buses and services; its arguments come from
    ``@pytest.mark.nova_clock(**kwargs)``.

    ``clock.now()`` is the virtual time (0 at the start), ``time.sleep``,
    timeouts and waits of the test's threads run on it. The arguments are
    `ClockFixture`'s (``max_virtual=``, ``autojump=``, ``ties=``). With
    ``schedule``, the clock the schedule runs on.
    """
    assert _nova_env.clock is not None
    return _nova_env.clock


@pytest.fixture
def deadlocks(_nova_env: _Env) -> deadlock_mod.DeadlockFixture:
    """Returns the test's `DeadlockFixture` (after the clock, before the
    buses); its arguments come from ``@pytest.mark.nova_deadlocks(
    **kwargs)``.

    A deadlock (or a lock-order inversion) fails the test at teardown; see
    ``expect_deadlock`` for one the test expects. ``deadlocks.deadlocks``
    and ``deadlocks.inversions`` are the reports so far. The arguments are
    `DeadlockFixture`'s (``on_inversion='record'``, ``rpc='report'``,
    ``lockdep=False``).
    """
    assert _nova_env.deadlocks is not None
    return _nova_env.deadlocks


@pytest.fixture
def bus(_nova_env: _Env) -> transport_mod.TransportFixture:
    """Returns a `TransportFixture` on a fresh ``memory://`` bus (or
    ``OS_TEST_TRANSPORT_URL``), discarded after the test; no arguments.

    ``bus.rpc_client(topic, server=None, **kwargs)``,
    ``bus.notifier(publisher_id)``, ``bus.settle()``, ``bus.url``,
    ``bus.transport``, ``bus.broker`` (its journal is in a failed test's
    report).
    """
    return _nova_env.use_bus()


@pytest.fixture
def fake_redirect(_nova_env: _Env) -> Any:
    """Returns a `FakeRedirectFixture` named after the test (no
    arguments): every ``fake:`` transport the test opens goes to a
    ``memory://`` bus of its own (``fake_redirect.url``, ``.broker``,
    ``.settle()``).

    The ``fake:`` differences it meets are a section of the test's report
    (passed or failed) and are listed at the end of the session.
    """
    return _nova_env.use_fake_redirect()


@pytest.fixture
def make_bus(
        _nova_env: _Env) -> Callable[..., transport_mod.TransportFixture]:
    """Returns ``make_bus(name=None, **kwargs)``, which returns one more
    `TransportFixture` (a cell's bus; ``name`` ends its URL), discarded
    after the test.

    ``kwargs`` are `TransportFixture`'s (``url=``, ``conf=``,
    ``context_handles=``).
    """
    return _nova_env.use_bus


@pytest.fixture
def start_service(
        _nova_env: _Env, bus: transport_mod.TransportFixture
) -> Callable[..., services_mod.ServiceFixture]:
    """Returns ``start_service(manager, topic, host, bus=None, **kwargs)``,
    which returns a started `ServiceFixture`, stopped after the test.

    It serves ``manager``'s public methods as ``topic``/``host`` on ``bus``
    (default: the ``bus`` fixture). The `ServiceFixture` returned has
    ``.kill()``, ``.restart()``, ``.stop()``, ``.start()``, ``.server``
    and ``.conf``; ``kwargs`` are its arguments (``endpoints=``,
    ``periodic=``, ``max_workers=``).
    """
    from nova_fixtures import services as services_mod

    default = bus

    def start(manager: Any, topic: str, host: str,
              bus: transport_mod.TransportFixture | None = None,
              **kwargs: Any) -> services_mod.ServiceFixture:
        return _nova_env.root.useFixture(services_mod.ServiceFixture(
            manager, topic, host, bus if bus is not None else default,
            **kwargs))

    return start


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> None:
    """Attach the fake: differences to the test's report, and the
    journals and the clock to a failed test's."""
    env = item.stash.get(_ENV, None)
    if env is not None and call.when == 'teardown':
        differences = env.differences()
        if differences:
            item.add_report_section(call.when, 'fake-transport:differences',
                                    differences)
    if env is None or call.excinfo is None or \
            call.excinfo.errisinstance(pytest.skip.Exception):
        return
    from nova_fixtures import _pytest_timeout

    timed_out = _pytest_timeout.timed_out(call.excinfo)
    for key, content in env.sections(timed_out, call.excinfo.tb):
        item.add_report_section(call.when, key, content)
    if timed_out:
        from nova_fixtures import _abandon

        # NOTE(pytest): after the report: it wakes the stuck callers.
        _abandon.abandon('the test timed out')


def _uses_library(item: pytest.Item) -> bool:
    return '_nova_env' in getattr(item, 'fixturenames', ()) or \
        _has_marker(item)


def _hang_report(item: pytest.Item) -> str:
    from nova_fixtures import hang

    env = item.stash.get(_ENV, None)
    return hang.hang_report(env.bus_views() if env is not None else ())


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    """pytest-timeout's thread method, for a test that uses the library:
    its timer writes the hang report before pytest-timeout's own dump
    and exit (see `nova_fixtures._pytest_timeout`)."""
    if not _uses_library(item):
        return None
    from nova_fixtures import _pytest_timeout

    return _pytest_timeout.set_timer(item, settings,
                                     lambda: _hang_report(item))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List every fake: difference the session's tests met."""
    from nova_fixtures import fake_differences

    config = terminalreporter.config
    first = config.stash.get(_FIRST_DIFFERENCE, 0)
    ours = config.stash.get(_NODEIDS, set())
    report = fake_differences.render(list(dict.fromkeys(
        d.line() for d in fake_differences.since(first) if d.test in ours)))
    if report:
        terminalreporter.write_sep('=', 'fake: differences')
        terminalreporter.write_line(report)
