"""The pytest plugin's fixtures beyond the bus, the clock and services.

Registered by `nova_fixtures.pytest_plugin` (its ``pytest_plugins``); they
use its per-test environment, the fixture ``_nova_env``. The guide is
``doc/source/pytest.rst``.
"""

from __future__ import annotations

from typing import Any, Callable, TYPE_CHECKING

import pytest

from nova_fixtures import _pytest_env

if TYPE_CHECKING:
    from nova_fixtures import notifications as notifications_mod
    from nova_fixtures import pytest_plugin
    from nova_fixtures import schedule as schedule_mod
    from nova_fixtures import transport as transport_mod

__all__ = ['expect_deadlock', 'notifications', 'schedule', 'use_fixture']


@pytest.fixture
def schedule(_nova_env: pytest_plugin._Env) -> schedule_mod.ScheduleFixture:
    """Returns the `ScheduleFixture` the test's threads run on, one at a
    time, in the order its seed picks; its arguments come from
    ``@pytest.mark.nova_schedule(seed=N, **kwargs)`` (no marker:
    ``seed=0``).

    The arguments are `ScheduleFixture`'s (``strategy=``, ``depth=``,
    ``steps=``). It runs on the test's ``clock`` (asking for both is fine;
    ``nova_clock``'s arguments make that clock). A schedule the hunt asks
    for takes the marker's place. ``schedule.seed``; ``schedule.result()``
    once the test is over. A failed test's report shows the seed (section
    ``nova-fixtures:schedule``).
    """
    assert _nova_env.schedule is not None
    return _nova_env.schedule


@pytest.fixture
def notifications(
        _nova_env: pytest_plugin._Env, bus: transport_mod.TransportFixture
) -> notifications_mod.NotificationFixture:
    """Returns a `NotificationFixture` capturing the ``notifications``
    topic of the ``bus`` fixture from the start of the test, in a pool of
    its own; no arguments.

    ``notifications.wait_for(event_type, count=1, timeout=10.0)`` returns
    the first ``count`` of that type (waking on each arrival) or raises
    `NotificationTimeout`; ``.notifications``, ``.of_type(event_type)``.
    For another bus or topics, ``use_fixture(NotificationFixture(...))``.
    """
    from nova_fixtures import notifications as notifications_mod

    return _nova_env.root.useFixture(
        notifications_mod.NotificationFixture(bus))


@pytest.fixture
def use_fixture(_nova_env: pytest_plugin._Env) -> Callable[[Any], Any]:
    """Returns ``use_fixture(fixture)``, which sets up ``fixture`` (any
    `fixtures.Fixture`) in the test's nova-fixtures environment and
    returns it.

    It is cleaned up with the test, in reverse order of setup among the
    buses, services and fixtures of the test, before the clock, the
    deadlock detector and the thread-leak check, as ``self.useFixture``
    does in a `TestCase`: ``use_fixture(ScatterFaultFixture(...))``,
    ``use_fixture(ThreadLeakFixture(...))``, a fixture of your own.
    """
    return _nova_env.root.useFixture


@pytest.fixture
def expect_deadlock(
        _nova_env: pytest_plugin._Env
) -> Callable[..., _pytest_env.ExpectDeadlock]:
    """Returns ``expect_deadlock(**kwargs)``, a context manager for code
    that must deadlock: ``with expect_deadlock() as caught: ...``, where
    ``caught.report`` is then the deadlock report.

    The block runs under a `DeadlockFixture` (``kwargs`` are its
    arguments) cleaned up inside the ``with``, or under the test's own
    detector (``deadlocks``, ``--nova-deadlocks``), which forgets the
    block's reports. A `DeadlockError` raised in the block is caught.
    ``caught.report`` (the text), ``caught.reports``, ``caught.exception``
    (a `DeadlockError`). No deadlock reported in the block fails the test.
    """
    def expect(**kwargs: Any) -> _pytest_env.ExpectDeadlock:
        return _pytest_env.ExpectDeadlock(kwargs)

    return expect
