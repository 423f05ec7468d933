"""Fault rules the broker applies to matching messages.

Also the checks on the arguments of the broker's fault API (`check_seconds`,
`check_server`, `check_group`), so a typo is refused when the rule is made
instead of silently disabling it.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import numbers
import threading
from typing import Any, Callable, Iterable
import warnings

from fake_transport import journal

__all__ = ['ACTIONS', 'Fault', 'KINDS', 'MATCH_FIELDS', 'MAX_SECONDS',
           'check_group', 'check_seconds', 'check_server', 'choose']

ACTIONS = ('drop', 'delay', 'duplicate', 'fail')
MATCH_FIELDS = ('kind', 'exchange', 'topic', 'server', 'method', 'sender')
KINDS = ('call', 'cast', 'fanout', 'notification', 'reply')

# NOTE(faults): the longest wait a threading lock, condition or timer
# accepts; beyond it the waiting thread dies of OverflowError.
MAX_SECONDS = threading.TIMEOUT_MAX


def check_seconds(what: str, value: Any, none_ok: bool = False
                  ) -> float | None:
    """Return ``value`` as seconds, or refuse it naming ``what``.

    An int or a float (not a bool, not a string), finite, ``>= 0``, at most
    `MAX_SECONDS`; ``None`` too when ``none_ok``.

    :param what: the subject of the error, such as ``'a delay'``.
    :raises ValueError: for anything else.
    """
    if none_ok and value is None:
        return None
    allowed = ' or None' if none_ok else ''
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            value != value or value < 0 or value == float('inf'):
        raise ValueError(
            f"{what} must be a finite number of seconds >= 0{allowed}, "
            f"got {value!r}")
    if value > MAX_SECONDS:
        raise ValueError(
            f"{what} must be at most {MAX_SECONDS:.0f} s, the longest wait "
            f"threading allows, got {value!r}")
    return float(value)


def check_server(what: str, server: Any) -> str:
    """Return ``server`` if it is a server name, else refuse it.

    Any non-empty string: a server need not have started yet.
    """
    if not isinstance(server, str) or not server:
        raise ValueError(
            f"{what} needs a server name (a non-empty string), got "
            f"{server!r}")
    return server


def check_group(what: str, group: Any) -> frozenset[str]:
    """Return a partition group as a set of server names, else refuse it.

    A string is refused rather than taken as a set of characters.
    """
    if isinstance(group, (str, bytes)) or \
            not isinstance(group, collections.abc.Iterable):
        raise ValueError(
            f"{what} must be a list of server names, got {group!r}")
    names = list(group)
    if not names:
        raise ValueError(
            f"{what} is empty; a partition needs a server on each side")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"{what} must hold server names (non-empty strings), got "
                f"{name!r}")
    return frozenset(names)


@dataclasses.dataclass(eq=False)
class Fault:
    """A rule: do ``action`` to each message matching every given field.

    Fields left ``None`` match anything. ``times`` limits how many messages
    the rule acts on (``None``: no limit); ``hits`` counts them. A message
    that several rules match counts a hit only on the rules that act on it
    (see `choose`). ``delay`` and ``duplicate`` never act on replies.

    :ivar action: ``'drop'``, ``'delay'``, ``'duplicate'`` or ``'fail'``.
    :ivar seconds: the delay, for ``'delay'``.
    :raises ValueError: at creation, for a rule that could never match or
        act, naming the field and what it allows.
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
        for field, wanted in self.match.items():
            _check_match(field, wanted)
        if self.action == 'delay':
            seconds = check_seconds('a delay', self.seconds)
            assert seconds is not None
            self.seconds = seconds
        elif not (isinstance(self.seconds, (int, float)) and
                  self.seconds == 0):
            raise ValueError(
                f"seconds applies to delay rules only, got "
                f"{self.seconds!r} for a {self.action} rule")
        if self.action in ('delay', 'duplicate') and \
                self.match.get('kind') == 'reply':
            raise ValueError(
                f"a {self.action} rule can't match kind 'reply': delay and "
                f"duplicate act on calls, casts, fanouts and notifications; "
                f"a reply can only be dropped or failed")
        if self.times is not None and (
                isinstance(self.times, bool) or
                not isinstance(self.times, numbers.Integral) or
                self.times < 1):
            raise ValueError(
                f"times must be a whole number >= 1 or None, got "
                f"{self.times!r}")

    def applies_to(self, entry: journal.JournalEntry) -> bool:
        """Return whether ``entry`` matches and the rule has hits left.

        Counts nothing: a rule counts a hit only when it acts (`claim`).
        """
        for field, wanted in self.match.items():
            if wanted is not None and getattr(entry, field) != wanted:
                return False
        return self.times is None or self.hits < self.times

    def claim(self) -> bool:
        """Count one hit if ``times`` allows; return whether it did."""
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
        return True

    def matches(self, entry: journal.JournalEntry) -> bool:
        """Count and return whether this rule applies to ``entry``.

        Deprecated: it counts a hit whether or not the rule then acts; use
        `applies_to` and `claim`, or `choose`.
        """
        warnings.warn('Fault.matches() is deprecated; use applies_to() and '
                      'claim()', DeprecationWarning, stacklevel=2)
        return self.applies_to(entry) and self.claim()

    def remove(self) -> None:
        """Stop applying this rule."""
        if self._remove is not None:
            self._remove(self)


def _check_match(field: str, wanted: Any) -> None:
    if wanted is None:
        return
    if field == 'kind':
        if not isinstance(wanted, str) or wanted not in KINDS:
            raise ValueError(
                f"fault match field 'kind' must be one of "
                f"{', '.join(KINDS)} or None, got {wanted!r}")
    elif not isinstance(wanted, str):
        raise ValueError(
            f"fault match field {field!r} must be a string or None, got "
            f"{wanted!r}")


def choose(rules: Iterable[Fault], entry: journal.JournalEntry
           ) -> list[Fault]:
    """Return the rules that act on ``entry``, counting a hit on each.

    The first matching ``drop`` or ``fail`` rule, in the order given, acts
    alone. Otherwise every matching ``duplicate`` rule adds a copy and the
    first matching ``delay`` rule holds all the copies; the delay comes
    last in the list. A reply is only ever dropped (``fail`` drops it too).
    A rule whose ``times`` ran out, here or in another thread, is skipped.
    """
    candidates = [rule for rule in rules if rule.applies_to(entry)]
    for rule in candidates:
        if rule.action in ('drop', 'fail') and rule.claim():
            return [rule]
    if entry.kind == 'reply':
        return []
    acting = [rule for rule in candidates
              if rule.action == 'duplicate' and rule.claim()]
    for rule in candidates:
        if rule.action == 'delay' and rule.claim():
            acting.append(rule)
            break
    return acting
