"""NotificationFixture: capture notifications, wait for them without polling.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from typing import Any, Iterable

from nova_fixtures import _args
from nova_fixtures import _state
from nova_fixtures import services

__all__ = ['CapturedNotification', 'NotificationFixture',
           'NotificationTimeout']

PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical',
              'sample')


class NotificationTimeout(AssertionError):
    """`NotificationFixture.wait_for` ran out of time."""


@dataclasses.dataclass(frozen=True)
class CapturedNotification:
    priority: str
    publisher_id: str
    event_type: str
    payload: Any
    metadata: dict[str, Any]

    def __str__(self) -> str:
        return (f'{self.priority} {self.event_type} from '
                f'{self.publisher_id}: {self.payload!r}')


class _Capture:
    """The endpoint: one method per priority, all recording."""

    def __init__(self, fixture: 'NotificationFixture') -> None:
        for priority in PRIORITIES:
            setattr(self, priority, self._recorder(fixture, priority))

    @staticmethod
    def _recorder(fixture: 'NotificationFixture', priority: str) -> Any:
        def record(ctxt: Any, publisher_id: str, event_type: str,
                   payload: Any, metadata: dict[str, Any]) -> None:
            fixture._add(CapturedNotification(
                priority, publisher_id, event_type, payload, metadata))
        return record


class NotificationFixture(_state.GuardedFixture):
    """Capture every notification on a bus's topics, in its own pool.

    The capture listens in a pool of its own, so services that consume the
    same topics still get every message; like any new pool it sees what is
    sent after it starts. ``wait_for`` wakes on each arrival. Attaches
    ``nova-fixtures:notifications`` at cleanup.

    :param transport: a `TransportFixture` or a notification transport.
    :param topics: the topics to capture (default ``['notifications']``).

    Example::

        notes = self.useFixture(NotificationFixture(bus))
        ...
        [created] = notes.wait_for('instance.create.end')
    """

    def __init__(self, transport: Any,
                 topics: Iterable[str] = ('notifications',)) -> None:
        super().__init__()
        self._transport = transport
        self.topics = list(topics)
        self._cond = threading.Condition()
        self._notifications: list[CapturedNotification] = []

    def _setUp(self) -> None:
        self.addDetail('nova-fixtures:notifications', _state.lazy_text(
            self._render))
        self.useFixture(services.NotificationListenerFixture(
            [_Capture(self)], self._transport, topics=self.topics,
            pool=f'capture-{uuid.uuid4().hex[:8]}'))
        self._ready()

    def _add(self, notification: CapturedNotification) -> None:
        with self._cond:
            self._notifications.append(notification)
            self._cond.notify_all()

    def _render(self) -> str:
        with self._cond:
            return '\n'.join(str(n) for n in self._notifications)

    @property
    def notifications(self) -> list[CapturedNotification]:
        """Everything captured so far, in arrival order.

        Refused before ``setUp()`` (nothing can have been captured); still
        readable after cleanup.
        """
        self._check_set_up()
        with self._cond:
            return list(self._notifications)

    def of_type(self, event_type: str) -> list[CapturedNotification]:
        """The notifications of ``event_type`` captured so far."""
        return [n for n in self.notifications if n.event_type == event_type]

    def wait_for(self, event_type: str, count: int = 1,
                 timeout: float = 10.0) -> list[CapturedNotification]:
        """Wait until ``count`` notifications of ``event_type`` arrived.

        :returns: the first ``count`` of them.
        :raises NotificationTimeout: naming what did arrive.
        :raises ValueError: ``count`` is not a whole number >= 1, or
            ``timeout`` is negative, NaN or infinite (`TypeError`: not a
            number).
        """
        if not isinstance(count, int) or isinstance(count, bool) or \
                count < 1:
            raise ValueError(f'wait_for count must be a whole number >= 1, '
                             f'got {count!r}')
        _args.seconds('wait_for', 'timeout', timeout)
        self._check_ready()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [n for n in self._notifications
                         if n.event_type == event_type]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({n.event_type for n in
                                   self._notifications})
                    raise NotificationTimeout(
                        f'waited {timeout} s for {count} {event_type!r} '
                        f'notification(s), got {len(found)}; seen: '
                        f'{", ".join(seen) or "nothing"}')
                self._cond.wait(left)
