"""Run an existing test suite, unedited, on virtual time.

`apply_clock` wraps each test of a suite so that a `ClockFixture` is set up
before the test's own ``setUp`` (so the fixtures, servers and executors it
makes belong to the clock) and cleaned up after everything else. Use it from
a ``load_tests`` hook, as ``tests/conformance/__init__.py`` does with
``OS_TEST_VIRTUAL_CLOCK=1`` for oslo.messaging's functional suite::

    from nova_fixtures import virtual_time

    def load_tests(loader, standard_tests, pattern):
        suite = loader.loadTestsFromModule(their_module)
        return virtual_time.apply_clock(suite)

Tests that wait for something outside the process with ``time.sleep``
(a subprocess starting, a real server) need real time: leave them out with
``exclude``.
"""

from __future__ import annotations

import re
import unittest
from typing import Any, Iterable, Iterator

from nova_fixtures import clock

__all__ = ['apply_clock', 'with_clock']


def with_clock(test: unittest.TestCase, **clock_kwargs: Any) -> None:
    """Make ``test`` run inside a `ClockFixture`."""
    real_setup = test.setUp

    def setUp() -> None:
        fixture = clock.ClockFixture(**clock_kwargs)
        fixture.setUp()
        test.addCleanup(fixture.cleanUp)
        real_setup()

    test.setUp = setUp  # type: ignore[method-assign]


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def apply_clock(suite: unittest.TestSuite, exclude: Iterable[str] = (),
                **clock_kwargs: Any) -> unittest.TestSuite:
    """Wrap every test of ``suite`` whose id matches no ``exclude`` regex.

    :returns: ``suite``, changed in place.
    """
    patterns = [re.compile(p) for p in exclude]
    for test in _tests(suite):
        if not any(p.search(test.id()) for p in patterns):
            with_clock(test, **clock_kwargs)
    return suite
