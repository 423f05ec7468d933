"""A fixture base that refuses use before ``setUp()`` and after cleanup."""

from __future__ import annotations

from typing import Any, Callable

import fixtures
import testtools.content
import testtools.content_type

__all__ = ['FixtureNotReady', 'GuardedFixture', 'lazy_text']


def lazy_text(render: Callable[[], str]) -> testtools.content.Content:
    """A text detail computed when read.

    ``TestCase.useFixture`` reads a fixture's details just before the
    fixture's cleanUp, so a detail registered in ``_setUp`` this way shows
    the state at the end of the test.
    """
    return testtools.content.Content(
        testtools.content_type.UTF8_TEXT,
        lambda: [render().encode('utf-8')])


class FixtureNotReady(RuntimeError, AttributeError):
    """A fixture was used before ``setUp()`` or after its cleanup.

    Also an ``AttributeError``, so ``hasattr()`` and ``getattr(x, n, d)``
    keep working on a fixture that is not set up.
    """


class GuardedFixture(fixtures.Fixture):
    """`fixtures.Fixture` that knows whether it is set up.

    Subclasses call ``self._ready()`` at the end of ``_setUp`` and
    ``self._check_ready()`` at the top of each public method. Reading an
    attribute that ``_setUp`` would have set raises `FixtureNotReady`
    instead of a bare ``AttributeError``. A second ``setUp()`` while set up
    is refused; ``cleanUp()`` when not set up does nothing.
    """

    _lifecycle = 'new'

    def setUp(self) -> None:
        """Set up; refused while set up (clean up first).

        ``fixtures.Fixture.setUp`` would forget the cleanups of the first
        set-up and leak what they undo.
        """
        # NOTE(state): the one setUp() override, against house style: the
        # check must come before fixtures clears the cleanup list, which
        # happens before _setUp() runs.
        if self._lifecycle == 'ready':
            raise RuntimeError(
                f'{type(self).__name__} is already set up; call cleanUp() '
                f'before setting it up again')
        super().setUp()

    def cleanUp(self, raise_first: bool = True) -> Any:
        """Clean up; a no-op when not set up, or when cleaned up already.

        ``fixtures.Fixture.cleanUp`` fails with ``TypeError: 'NoneType'
        object is not callable`` the second time, so a test that cleans a
        fixture up itself, then lets ``useFixture`` do it again, would fail.
        """
        if getattr(self, '_cleanups', None) is None:
            return None if raise_first else []
        return super().cleanUp(raise_first)

    def _ready(self) -> None:
        self._lifecycle = 'ready'

    def _remove_state(self) -> None:
        # NOTE(state): fixtures calls this at the end of cleanUp() and of
        # __exit__, the two ways out.
        if self._lifecycle == 'ready':
            self._lifecycle = 'cleaned'
        super()._remove_state()

    def _check_set_up(self) -> None:
        """Refuse use before ``setUp()``; allow it after cleanup.

        For what a fixture recorded, which stays readable once it is
        cleaned up.
        """
        if self._lifecycle == 'new':
            self._check_ready()

    def _check_ready(self) -> None:
        name = type(self).__name__
        if self._lifecycle == 'new':
            raise FixtureNotReady(
                f'{name} is not set up: use it through useFixture() or '
                f'call setUp() first')
        if self._lifecycle == 'cleaned':
            raise FixtureNotReady(
                f'{name} was cleaned up; set up a new one')

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_') or self._lifecycle == 'ready':
            raise AttributeError(name)
        self._check_ready()
        raise AttributeError(name)
