"""Fault rules the broker applies to matching messages."""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Callable

from fake_transport import journal

__all__ = ['ACTIONS', 'Fault', 'MATCH_FIELDS']

ACTIONS = ('drop', 'delay', 'duplicate', 'fail')
MATCH_FIELDS = ('kind', 'exchange', 'topic', 'server', 'method', 'sender')


@dataclasses.dataclass(eq=False)
class Fault:
    """A rule: do ``action`` to each message matching every given field.

    Fields left ``None`` match anything. ``times`` limits how many messages
    the rule hits (``None``: no limit); ``hits`` counts them.

    :ivar action: ``'drop'``, ``'delay'``, ``'duplicate'`` or ``'fail'``.
    :ivar seconds: the delay, for ``'delay'``.
    """

    action: str
    match: dict[str, str | None]
    seconds: float = 0.0
    times: int | None = None
    hits: int = 0
    _remove: Callable[['Fault'], None] | None = dataclasses.field(
        default=None, repr=False)
    _lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(
                f"unknown fault action {self.action!r}; expected one of "
                f"{', '.join(ACTIONS)}")
        unknown = sorted(set(self.match) - set(MATCH_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown fault match field {unknown[0]!r}; expected one of "
                f"{', '.join(MATCH_FIELDS)}")
        if self.action == 'delay' and not (
                math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(
                f"a delay must be a finite number of seconds >= 0, got "
                f"{self.seconds!r}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be >= 1 or None, got {self.times!r}")

    def matches(self, entry: journal.JournalEntry) -> bool:
        """Count and return whether this rule applies to ``entry``."""
        for field, wanted in self.match.items():
            if wanted is not None and getattr(entry, field) != wanted:
                return False
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
        return True

    def remove(self) -> None:
        """Stop applying this rule."""
        if self._remove is not None:
            self._remove(self)
