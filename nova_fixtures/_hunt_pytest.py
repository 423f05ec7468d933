"""A pytest test as the hunt runs it: by its node id, in this process.

`PytestTest` stands for one test a node id names
(``tests/test_race.py::TestBill::test_total[eur]``: fixtures, parametrize
and the plugin's markers included). ``run`` runs it with ``pytest.main``
(every time in a forked copy of the hunt's process, which collected it
once, so the test's modules are imported already) and files its outcome
in a `unittest.TestResult`, as the hunt expects of a unittest test.

A test that sets up no clock of its own (no ``clock`` or ``schedule``
fixture, no ``nova_clock`` or ``nova_schedule`` marker) runs inside a
`ClockFixture` set up around its whole setup, call and teardown, as the
hunt wraps a unittest test; the schedule the hunt requested
(`nova_fixtures.schedule.request`) takes that clock, or the test's own.
The fixtures the hunt's ``nova_fixtures.run`` settings give a test
(`nova_fixtures.run.fixtures_for`: the deadlock detector, the ``fake:``
redirect) are set up there too, after that clock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import traceback
import unittest
from typing import Any, Iterator

__all__ = ['PytestTest', 'is_node_id']

# NOTE(hunt_pytest): the same options for the collection and every run:
# no cache (runs must not see each other), and one process (xdist's -n in
# a user's addopts would start workers the fork can't schedule).
_OPTIONS = ['-p', 'no:cacheprovider']
_OWN_CLOCK_FIXTURES = ('clock', 'schedule')
_OWN_CLOCK_MARKERS = ('nova_clock', 'nova_schedule')


def is_node_id(test_id: str) -> bool:
    """Whether ``test_id`` is a pytest node id (or a file), not a dotted
    unittest id."""
    return '::' in test_id or test_id.endswith('.py') or '/' in test_id


def _options() -> list[str]:
    options = list(_OPTIONS)
    if importlib.util.find_spec('xdist') is not None:
        options += ['-p', 'no:xdist']
    return options


class _Collector:
    """Collects what a session did: its items, failed collections, and
    the reports of each phase of a test."""

    def __init__(self, test: PytestTest | None = None) -> None:
        self.items: list[str] = []
        self.collect_errors: list[str] = []
        self.reports: list[Any] = []
        self.raised: dict[str, str] = {}
        self.test = test
        self.fixture_error = ''

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collect_errors.append(report.longreprtext)

    def pytest_collection_finish(self, session: Any) -> None:
        self.items = [item.nodeid for item in session.items]

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.reports.append(report)

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        if call.excinfo is not None:
            self.raised.setdefault(call.when, call.excinfo.typename)

    @contextlib.contextmanager
    def _fixtures_for(self, item: Any) -> Iterator[None]:
        if self.test is None:
            yield
            return
        import fixtures

        from nova_fixtures import clock as clock_mod
        from nova_fixtures import run as run_mod

        own = any(name in item.fixturenames
                  for name in _OWN_CLOCK_FIXTURES) or any(
            item.get_closest_marker(name) for name in _OWN_CLOCK_MARKERS)
        root = fixtures.Fixture()
        root.setUp()
        try:
            try:
                if not own:
                    root.useFixture(clock_mod.ClockFixture())
                for fixture in run_mod.fixtures_for(self.test,
                                                    self.test.settings):
                    root.useFixture(fixture)
            except Exception:
                self.fixture_error = traceback.format_exc()
            yield
        finally:
            try:
                root.cleanUp()
            except Exception:
                self.fixture_error = self.fixture_error or \
                    traceback.format_exc()


def _wrapping(collector: _Collector) -> Any:
    """The plugin that sets up ``collector``'s fixtures around each test
    (made here, as pytest is imported only for a node id)."""
    import pytest

    class Wrapping:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: Any,
                                    nextitem: Any) -> Iterator[None]:
            with collector._fixtures_for(item):
                yield

    return Wrapping()


class PytestTest:
    """One pytest test, run by ``pytest.main`` as the hunt runs a
    unittest test (``run(result)``, ``id()``)."""

    def __init__(self, node_id: str, settings: Any = None,
                 verbose: bool = False) -> None:
        from nova_fixtures import run as run_mod

        self.node_id = node_id
        self.settings = settings or run_mod.RunSettings()
        self.verbose = verbose

    def id(self) -> str:
        return self.node_id

    def collect(self) -> list[str]:
        """The node ids ``node_id`` names.

        :raises LookupError: pytest could not collect it; the message is
            pytest's.
        """
        import pytest

        collector = _Collector()
        with _quiet() as errors:
            code = pytest.main([self.node_id, '--collect-only', '-q'] +
                               _options(), plugins=[collector])
        if collector.collect_errors:
            raise LookupError(collector.collect_errors[0].strip()
                              .splitlines()[-1])
        said = errors.getvalue()
        if code == pytest.ExitCode.USAGE_ERROR and 'ERROR' in said:
            said = said[said.index('ERROR'):]
            raise LookupError(f'pytest says: {" ".join(said.split())}')
        if code not in (pytest.ExitCode.OK,
                        pytest.ExitCode.NO_TESTS_COLLECTED):
            raise LookupError(f'pytest could not collect it (exit status '
                              f'{int(code)})')
        return collector.items

    def run(self, result: unittest.TestResult) -> None:
        import pytest

        collector = _Collector(self)
        plugins = [collector, _wrapping(collector)]
        args = [self.node_id] + _options()
        if self.verbose:
            pytest.main(args + ['-v'], plugins=plugins)
        else:
            with _quiet():
                pytest.main(args + ['-q'], plugins=plugins)
        self._file(collector, result)

    def _file(self, collector: _Collector,
              result: unittest.TestResult) -> None:
        failed = [r for r in collector.reports if r.failed]
        if failed:
            report = failed[0]
            text = report.longreprtext.rstrip()
            crash = getattr(report.longrepr, 'reprcrash', None)
            message = crash.message.splitlines()[0] if crash else ''
            # NOTE(hunt_pytest): the exception last, as a traceback ends:
            # the hunt reads a failure's kind there.
            text += f'\n{collector.raised.get(report.when, "Error")}: ' \
                f'{message}'
            problems = result.failures if report.when == 'call' \
                else result.errors
            problems.append((self, text))  # type: ignore[arg-type]
        elif collector.fixture_error:
            result.errors.append(  # type: ignore[arg-type]
                (self, collector.fixture_error))
        elif not collector.reports:
            result.errors.append(  # type: ignore[arg-type]
                (self, f'pytest ran no test for {self.node_id}'))
        elif any(r.skipped for r in collector.reports):
            skipped = next(r for r in collector.reports if r.skipped)
            result.skipped.append(  # type: ignore[arg-type]
                (self, str(skipped.longrepr[-1])
                 if isinstance(skipped.longrepr, tuple) else 'skipped'))
        result.testsRun += 1


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """pytest's terminal output (written to ``sys.stdout``) discarded, and
    what it writes to ``sys.stderr`` (usage errors) kept."""
    errors = io.StringIO()
    with open(os.devnull, 'w') as devnull, \
            contextlib.redirect_stdout(devnull), \
            contextlib.redirect_stderr(errors):
        yield errors
