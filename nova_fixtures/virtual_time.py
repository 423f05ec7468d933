"""Run an existing test suite, unedited, on virtual time.

`apply_clock` wraps each test of a suite so that a `ClockFixture` is set up
before the test's own ``setUp`` (so the fixtures, servers and executors it
makes belong to the clock) and cleaned up after everything else, the
test's own cleanups included. `apply_fixtures` does the same with any
fixtures. Use them from a ``load_tests`` hook, or have ``python -m
nova_fixtures.run --clock`` wrap every test the loader returns, with no
edit at all (``tox -e conformance-virtual`` runs oslo.messaging's
functional suite so)::

    from nova_fixtures import virtual_time

    def load_tests(loader, standard_tests, pattern):
        suite = loader.loadTestsFromModule(their_module)
        return virtual_time.apply_clock(suite)

Tests that wait for something outside the process with ``time.sleep``
(a subprocess starting, a real server) need real time: leave them out with
``exclude``, or mark them `real_time`.

How a test is wrapped: its class is swapped for a subclass whose ``setUp``
sets the fixtures up, then calls the original ``setUp``. Not a closure put
on the instance: runners copy tests (testscenarios' ``WithScenarios.run``
and ``generate_scenarios`` run a ``copy.copy`` per scenario), and a copy
keeps the instance's attributes, so a closure would set up the
*original* test (without the scenario's attributes) and register the
fixture's cleanup on it, where it never runs; the next clock in the
process would then find this one still active. A copy keeps the class as
well, and the class's ``setUp`` works on whichever copy runs, each with
fixtures of its own. The subclass has the original's name, qualified name
and module, so ``test.id()`` does not change.

Caution: unittest sees the subclass as a class of its own, so
``setUpClass`` and ``tearDownClass`` run for it; tests of one class that
are left out and interleaved with wrapped ones make them run once more.
"""

from __future__ import annotations

import dataclasses
import re
import unittest
from typing import Any, Callable, Iterable, Iterator, TypeVar

import fixtures
import testtools

from nova_fixtures import clock
from nova_fixtures import deadlock

__all__ = ['FixtureFactory', 'apply_clock', 'apply_fixtures',
           'is_real_time', 'real_time', 'use_fixtures', 'with_clock',
           'wrap_test']

FixtureFactory = Callable[[], Iterable[fixtures.Fixture]]

_T = TypeVar('_T')

# NOTE(virtual_time): the factory a wrapping class sets up, on the class;
# the opt-out mark, on a test method or a TestCase class.
_FACTORY = '_nova_fixtures_factory'
_REAL_TIME = '_nova_fixtures_real_time'

# NOTE(virtual_time): one wrapping class per (test class, factory), so the
# tests of one class stay one class to unittest.
_wrapping_classes: dict[tuple[type, Any], type] = {}


def real_time(test: _T) -> _T:
    """Mark a test method or a TestCase class to be left unwrapped.

    `apply_fixtures`, `apply_clock`, `wrap_test` and `with_clock` leave
    such a test as it is: it runs on real time. A mark on a class holds for
    its subclasses too.

    Example::

        class TestMetrics(testtools.TestCase):

            @virtual_time.real_time
            def test_subprocess_starts(self):
                time.sleep(1)
    """
    setattr(test, _REAL_TIME, True)
    return test


def is_real_time(test: unittest.TestCase) -> bool:
    """Whether `real_time` marks ``test``'s method or class."""
    method = getattr(test, test._testMethodName, None)
    return bool(getattr(type(test), _REAL_TIME, False) or
                getattr(method, _REAL_TIME, False))


def use_fixtures(test: unittest.TestCase, factory: FixtureFactory) -> None:
    """Set up the fixtures ``factory()`` gives, in order, on ``test``.

    Through ``useFixture`` on a testtools test (their details join the
    test's), else ``setUp()`` and ``addCleanup(cleanUp)``.
    """
    for fixture in factory():
        if isinstance(test, testtools.TestCase):
            # NOTE(virtual_time): useFixture also copies the fixture's
            # details (nova-fixtures:clock) into the test's.
            test.useFixture(fixture)
        else:
            fixture.setUp()
            test.addCleanup(fixture.cleanUp)


def _make_wrapping_class(cls: type[unittest.TestCase],
                         factory: FixtureFactory) -> type:
    def setUp(self: unittest.TestCase) -> None:
        # NOTE(virtual_time): cleanups run last in, first out: registered
        # before the test's setUp runs, the fixtures' run after all of the
        # test's own.
        use_fixtures(self, factory)
        cls.setUp(self)

    setUp.__qualname__ = f'{cls.__qualname__}.setUp'
    # NOTE(virtual_time): made by the class's own metaclass, as a class
    # statement would.
    metaclass: Any = type(cls)
    wrapping: type = metaclass(cls.__name__, (cls,), {
        '__module__': cls.__module__,
        '__qualname__': cls.__qualname__,
        '__doc__': cls.__doc__,
        # NOTE(virtual_time): the instance layout must not change, or
        # __class__ cannot be assigned.
        '__slots__': (),
        'setUp': setUp,
        _FACTORY: factory,
    })
    return wrapping


def _wrapping_class(cls: type[unittest.TestCase],
                    factory: FixtureFactory) -> type:
    key = (cls, factory)
    try:
        return _wrapping_classes[key]
    except KeyError:
        made = _wrapping_classes[key] = _make_wrapping_class(cls, factory)
        return made
    except TypeError:
        # NOTE(virtual_time): an unhashable factory: a class of its own.
        return _make_wrapping_class(cls, factory)


def wrap_test(test: unittest.TestCase, factory: FixtureFactory) -> None:
    """Make ``test`` (and every copy of it) run inside some fixtures.

    Swaps the class of ``test`` for a subclass (see the module's text) whose
    ``setUp`` sets up each fixture ``factory()`` returns, in order, then
    runs the test's own ``setUp``; the fixtures are cleaned up in reverse
    order after the test's own cleanups. Every run, and every copy that
    runs, calls ``factory()`` again for fresh fixtures.

    Left as is: an object that is not a `unittest.TestCase`, a test marked
    `real_time`, and a test already wrapped with an equal factory (wrapping
    twice does not nest the fixtures).

    :param test: a test case, changed in place.
    :param factory: a callable of no argument returning the fixtures.
    :raises ValueError: ``test`` is already wrapped with another factory;
        give one factory that returns all the fixtures.

    Example::

        virtual_time.wrap_test(
            test, lambda: [ClockFixture(), DeadlockFixture()])
    """
    if not isinstance(test, unittest.TestCase) or is_real_time(test):
        return
    cls = type(test)
    present = getattr(cls, _FACTORY, None)
    if present is not None:
        if present != factory:
            raise ValueError(
                f'{test.id()} is already wrapped with {present!r}; give one '
                f'factory that returns all the fixtures')
        return
    test.__class__ = _wrapping_class(cls, factory)


@dataclasses.dataclass(frozen=True)
class _ClockFactory:
    """A `ClockFixture` with these options, and maybe a `DeadlockFixture`;
    equal options, equal factory."""

    options: tuple[tuple[str, Any], ...]
    deadlocks: bool = False

    def __call__(self) -> list[fixtures.Fixture]:
        made: list[fixtures.Fixture] = [
            clock.ClockFixture(**dict(self.options))]
        if self.deadlocks:
            made.append(deadlock.DeadlockFixture())
        return made


def _clock_factory(clock_kwargs: dict[str, Any],
                   deadlocks: bool) -> _ClockFactory:
    return _ClockFactory(tuple(sorted(clock_kwargs.items())), deadlocks)


def with_clock(test: unittest.TestCase, deadlocks: bool = False,
               **clock_kwargs: Any) -> None:
    """Make ``test`` (and every copy of it) run inside a `ClockFixture`.

    `wrap_test` with a factory of ``ClockFixture(**clock_kwargs)``, and a
    `DeadlockFixture` after it with ``deadlocks``.
    """
    wrap_test(test, _clock_factory(clock_kwargs, deadlocks))


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def apply_fixtures(suite: unittest.TestSuite, factory: FixtureFactory,
                   exclude: Iterable[str] = ()) -> unittest.TestSuite:
    """`wrap_test` every test of ``suite`` whose id matches no ``exclude``.

    :param suite: the tests, nested suites included.
    :param factory: a callable of no argument returning the fixtures.
    :param exclude: regular expressions searched for in each test's id.
    :returns: ``suite``, changed in place.
    """
    patterns = [re.compile(p) for p in exclude]
    for test in _tests(suite):
        if not any(p.search(test.id()) for p in patterns):
            wrap_test(test, factory)
    return suite


def apply_clock(suite: unittest.TestSuite, exclude: Iterable[str] = (),
                deadlocks: bool = False,
                **clock_kwargs: Any) -> unittest.TestSuite:
    """Wrap every test of ``suite`` whose id matches no ``exclude`` regex.

    `apply_fixtures` with a factory of ``ClockFixture(**clock_kwargs)``,
    and a `DeadlockFixture` after it with ``deadlocks``.

    :returns: ``suite``, changed in place.
    """
    return apply_fixtures(suite, _clock_factory(clock_kwargs, deadlocks),
                          exclude)
