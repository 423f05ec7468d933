"""wait_until: wait for a condition, on real or virtual time."""

from __future__ import annotations

import time
from typing import Any, Callable
__all__ = ['WaitTimeout', 'wait_until']


class WaitTimeout(AssertionError):
    """A `wait_until` condition did not become true in time."""


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0,
               interval: float = 0.1, message: str | None = None,
               wake: Any = None) -> Any:
    """Return ``predicate()`` as soon as it is true; fail after ``timeout``.

    Replaces the sleep-and-poll helpers every suite grows (Nova's
    ``_wait_for_state_change``). Under a `ClockFixture` the waits are
    virtual: a 60 s wait for a state that a periodic task sets after 50
    virtual seconds returns at once in real time, at exactly the first poll
    after 50 s. Event-driven where it can be: given ``wake`` (a
    ``threading.Event`` or ``Condition`` that whoever changes the state
    sets or notifies), it waits on that instead of sleeping, and still
    checks at least every ``interval``; an ``Event`` is cleared before each
    check.

    :param predicate: called with no argument; its first true result is
        returned.
    :param timeout: seconds (virtual on a clock) before `WaitTimeout`.
    :param interval: seconds between two checks.
    :param message: what was awaited, for the error.
    :param wake: an ``Event`` (``wait``) or ``Condition`` (``wait`` under
        its lock) that signals a change.
    :raises WaitTimeout: ``timed out after <timeout> s waiting for
        <message>``.

    Example::

        server = wait_until(lambda: api.get_server(id)['status'] == 'ACTIVE'
                            and api.get_server(id), timeout=300,
                            message=f'server {id} to be ACTIVE')
    """
    for name, value in (('timeout', timeout), ('interval', interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not value == value or value < 0 or value == float('inf'):
            raise ValueError(f'wait_until {name} must be a finite number of '
                             f'seconds >= 0, got {value!r}')
    deadline = time.monotonic() + timeout
    event = wake if wake is not None and not hasattr(wake, 'notify') \
        else None
    while True:
        if event is not None:
            # NOTE(waiting): cleared before each check, so a change made
            # after it wakes the wait below.
            event.clear()
        result = predicate()
        if result:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            what = message or getattr(predicate, '__name__', 'a condition')
            raise WaitTimeout(f'timed out after {timeout:g} s waiting for '
                              f'{what}')
        pause = min(interval, left)
        if wake is None:
            time.sleep(pause)
        elif hasattr(wake, 'notify'):
            with wake:
                wake.wait(pause)
        else:
            wake.wait(pause)
