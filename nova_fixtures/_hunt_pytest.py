"""A pytest test as the hunt runs it: by its node id, in this process.

`PytestTest` stands for one test a node id names
(``tests/test_race.py::TestBill::test_total[eur]``: fixtures, parametrize
and the plugin's markers included). ``run`` runs it with ``pytest.main``
(every time in a forked copy of the hunt's process, which collected it
once, so the test's modules are imported already) and files its outcome
in a `unittest.TestResult`, as the hunt expects of a unittest test.

Each run passes the plugin's run-wide options (``--nova-clock``, and
``--nova-deadlocks`` and ``--nova-transport memory`` as the hunt's
``--deadlocks`` and ``--transport`` ask), so every test gets the fixtures
``nova_fixtures.run`` would give a stestr test, from the plugin itself;
the schedule the hunt requested (`nova_fixtures.schedule.request`) takes
the test's clock, the run-wide one or its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import unittest
from typing import Any, Iterator

__all__ = ['PytestTest', 'is_node_id']

# NOTE(hunt_pytest): the same options for the collection and every run:
# no cache (runs must not see each other).
_OPTIONS = ['-p', 'no:cacheprovider']


def is_node_id(test_id: str) -> bool:
    """Whether ``test_id`` is a pytest node id (or a file), not a dotted
    unittest id."""
    return '::' in test_id or test_id.endswith('.py') or '/' in test_id


def _options() -> list[str]:
    options = list(_OPTIONS)
    # NOTE(hunt_pytest): one process (xdist's -n in a user's addopts would
    # start workers the fork can't schedule), and the order and random
    # seed the schedule gives (pytest-randomly reseeds per session).
    if importlib.util.find_spec('xdist') is not None:
        options += ['-n', '0']
    if importlib.util.find_spec('pytest_randomly') is not None:
        options += ['-p', 'no:randomly']
    return options


class _Collector:
    """Collects what a session did: its items, failed collections, and
    the reports of each phase of a test."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.collect_errors: list[str] = []
        self.reports: list[Any] = []
        self.raised: dict[str, str] = {}

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

        collector = _Collector()
        plugins = [collector]
        args = [self.node_id, '--nova-clock'] + _options()
        if self.settings.deadlocks:
            args.append('--nova-deadlocks')
        if self.settings.transport:
            args += ['--nova-transport', self.settings.transport]
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
            problems: list[Any] = result.failures \
                if report.when == 'call' else result.errors
            problems.append((self, text))
        elif not collector.reports:
            errors: list[Any] = result.errors
            errors.append((self, f'pytest ran no test for {self.node_id}'))
        elif any(r.skipped for r in collector.reports):
            skipped = next(r for r in collector.reports if r.skipped)
            skips: list[Any] = result.skipped
            skips.append((self, str(skipped.longrepr[-1])
                          if isinstance(skipped.longrepr, tuple)
                          else 'skipped'))
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
