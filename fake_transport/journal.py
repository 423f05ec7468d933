"""The broker's record of every message it was given, and what became of it.
"""

from __future__ import annotations

import dataclasses
import threading

__all__ = ['Journal', 'JournalEntry']


@dataclasses.dataclass(slots=True)
class JournalEntry:
    """One message as one queue (or the reply path) saw it.

    A fanout to three servers gives three entries sharing ``msg_id``.

    :ivar seq: order in which the broker accepted the message.
    :ivar kind: ``'call'``, ``'cast'``, ``'fanout'``, ``'notification'`` or
        ``'reply'``.
    :ivar exchange: the exchange it was published to.
    :ivar topic: the topic (``'<topic>.<priority>'`` for notifications).
    :ivar server: the server it was addressed to, if any.
    :ivar method: the RPC method or the notification's event type.
    :ivar sender: the server whose handler sent it, else the thread name.
    :ivar queue: the queue holding it (``None`` when nothing routed it).
    :ivar outcome: its latest state: ``'queued'``, ``'delivered'``,
        ``'handled'``, ``'requeued'``, ``'expired'``, ``'unroutable'``,
        ``'undeliverable'``, ``'dropped'``, ``'failed'``, ``'delayed'``,
        ``'duplicate'``, ``'lost'`` or ``'caller-gone'``.
    """

    seq: int
    kind: str
    exchange: str
    topic: str
    server: str | None
    method: str | None
    sender: str
    msg_id: str
    queue: str | None = None
    outcome: str = 'queued'

    def __str__(self) -> str:
        where = f'{self.topic}' + (f'.{self.server}' if self.server else '')
        what = f' {self.method}' if self.method else ''
        return (f'#{self.seq} {self.kind}{what} to {self.exchange}/{where} '
                f'from {self.sender}: {self.outcome}')


class Journal:
    """An append-only, thread-safe list of `JournalEntry`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[JournalEntry] = []
        self._seq = 0

    def record(self, **fields: object) -> JournalEntry:
        with self._lock:
            self._seq += 1
            entry = JournalEntry(seq=self._seq, **fields)  # type: ignore
            self._entries.append(entry)
            return entry

    def entries(self, **match: object) -> list[JournalEntry]:
        """Return the entries whose fields equal every ``match`` value."""
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries
                if all(getattr(e, k) == v for k, v in match.items())]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def render(self) -> str:
        """Return one line per entry, for a testtools detail."""
        return '\n'.join(str(e) for e in self.entries())
