"""The broker's record of every message it was given, and what became of it.

The journal keeps the last `DEFAULT_LIMIT` entries of a bus unless told
otherwise, and counts every entry by kind and latest outcome whether it is
kept or not, so a long test holds bounded memory and still gets exact
counts. ``FAKE_TRANSPORT_JOURNAL`` (read when a bus is made) sets the limit
for every bus of the process: ``off`` (keep no entry, count them all),
``unbounded``, or a whole number of entries; ``Journal.limit`` sets it for
one bus.

Each entry records when it was made: ``real``, wall-clock seconds from the
real clock, and ``virtual``, seconds of virtual time when the recording
thread runs on a virtual clock (`set_virtual_clock`), else ``None``.
"""

from __future__ import annotations

import collections
import enum
import os
import threading
import time
from typing import Any, Callable, Sequence

__all__ = ['DEFAULT_LIMIT', 'ENV_VAR', 'Journal', 'JournalEntry',
           'limit_from_environment', 'set_virtual_clock', 'time_offsets',
           'watch_new_journals']

#: The environment variable that sets the journal limit of new buses.
ENV_VAR = 'FAKE_TRANSPORT_JOURNAL'

#: How many entries a journal keeps unless told otherwise (about 2.4 MB).
DEFAULT_LIMIT = 10_000

# NOTE(journal): in a tuple, not a module attribute: a virtual clock
# (nova_fixtures.clock) swaps every module attribute that is the real
# time.time_ns for its virtual one, but does not look inside containers.
# Captured at import, before any clock can be set up.
_REAL_WALL_NS = (time.time_ns,)
_NS = 1_000_000_000

_virtual_clock: Callable[[], float | None] | None = None


def set_virtual_clock(read: Callable[[], float | None] | None) -> None:
    """Timestamp new entries with ``read()``, or stop with ``None``.

    Process-wide: one virtual clock at a time, for every journal.
    ``read`` runs in the recording thread, under the journal's lock, and
    returns the seconds of virtual time that thread sees, or ``None`` when
    it runs on real time; it must not block or send a message.

    :param read: the virtual clock's reader, or ``None`` to remove it.

    Example::

        journal.set_virtual_clock(lambda: 1.25)   # every entry: 1.25 s
        journal.set_virtual_clock(None)
    """
    global _virtual_clock
    _virtual_clock = read


_new_journal_hooks: list[Callable[['Journal'], None]] = []
_clear_hooks: list[Callable[['Journal'], None]] = []


def watch_new_journals(
        callback: Callable[['Journal'], None],
        before_clear: Callable[['Journal'], None] | None = None,
) -> Callable[[], None]:
    """Call ``callback(journal)`` for each `Journal` made from now on, and
    ``before_clear(journal)`` before any journal forgets its entries.

    :returns: a function that stops the watch.

    Example::

        made = []
        stop = journal.watch_new_journals(made.append)
        ...
        stop()
    """
    _new_journal_hooks.append(callback)
    if before_clear is not None:
        _clear_hooks.append(before_clear)

    def stop() -> None:
        if callback in _new_journal_hooks:
            _new_journal_hooks.remove(callback)
        if before_clear in _clear_hooks:
            _clear_hooks.remove(before_clear)

    return stop


def time_offsets(entries: Sequence['JournalEntry']) -> list[str]:
    """Return each entry's time since the first one, as render shows it.

    In virtual time (``'+1.250 s'``) when any entry has a virtual time, from
    the first that has one; else in real time (``'+0.003 s real'``) from the
    first entry with a real time. An entry without the time chosen shows
    ``'? s'``.
    """
    virtual = [e.virtual for e in entries if e.virtual is not None]
    if virtual:
        times, unit = [e.virtual for e in entries], ' s'
        origin = virtual[0]
    else:
        times, unit = [e.real for e in entries], ' s real'
        known = [t for t in times if t is not None]
        origin = known[0] if known else 0.0
    return ['? s' if t is None else f'{t - origin:+.3f}{unit}'
            for t in times]


def limit_from_environment() -> int | None:
    """Return the journal limit ``FAKE_TRANSPORT_JOURNAL`` asks for.

    ``off`` (or ``0``) keeps no entry, ``unbounded`` keeps every entry, a
    whole number keeps that many; unset or empty, `DEFAULT_LIMIT`.

    :raises ValueError: for any other value, naming the variable.
    """
    value = os.environ.get(ENV_VAR, '')
    word = value.strip().lower()
    if not word:
        return DEFAULT_LIMIT
    if word == 'off':
        return 0
    if word == 'unbounded':
        return None
    if word.isascii() and word.isdigit():
        return int(word)
    raise ValueError(
        f"{ENV_VAR} must be 'off', 'unbounded' or a whole number of "
        f"entries >= 0, got {value!r}")


class _Default(enum.Enum):
    FROM_ENVIRONMENT = 'from the environment'


def _check_limit(limit: Any) -> int | None:
    if limit is None or (isinstance(limit, int) and
                         not isinstance(limit, bool) and limit >= 0):
        return limit
    raise ValueError(
        f"a journal limit must be a whole number of entries >= 0 (0: off) "
        f"or None (unbounded), got {limit!r}")


class _Tally:
    """Entries counted by ``(kind, outcome)``, under the journal's lock.

    `Journal.clear` starts a new tally, so entries recorded before it
    (messages still in flight) no longer count.
    """

    __slots__ = ('counts', 'lock')

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.counts: dict[tuple[str, str], int] = {}

    def move(self, entry: 'JournalEntry', outcome: str) -> None:
        with self.lock:
            old = entry._outcome
            if old != outcome:
                counts = self.counts
                key = (entry.kind, old)
                left = counts[key] - 1
                if left:
                    counts[key] = left
                else:
                    del counts[key]
                key = (entry.kind, outcome)
                counts[key] = counts.get(key, 0) + 1
            entry._outcome = outcome


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
        ``'duplicate'``, ``'lost'``; for a reply (or a heartbeat),
        ``'queued'`` on its way, then ``'delivered'`` (the waiting caller
        got it), ``'dropped'`` (a fault or a partition),
        ``'caller-timed-out'`` (the caller had given up waiting) or
        ``'caller-gone'`` (the caller had its answer already, or stopped
        waiting for another reason).
    :ivar real: wall-clock seconds (real ``time.time()``) when recorded;
        ``None`` for an entry no journal recorded.
    :ivar virtual: seconds of virtual time when recorded, if the recording
        thread ran on a virtual clock (`set_virtual_clock`), else ``None``.
    :ivar origin: for a message sent through a transport made for another
        bus (a ``fake:`` transport kept from an earlier test), where that
        transport came from; else ``None``. Shown by ``str()``.

    ``real`` and ``virtual`` are not compared by ``==`` nor shown by
    ``repr()`` or ``str()``; `Journal.render` shows them.
    """

    __slots__ = ('seq', 'kind', 'exchange', 'topic', 'server', 'method',
                 'sender', 'msg_id', 'queue', 'reason', 'real', 'virtual',
                 'origin', '_outcome', '_tally')
    _FIELDS = ('seq', 'kind', 'exchange', 'topic', 'server', 'method',
               'sender', 'msg_id', 'queue', 'outcome')

    def __init__(self, seq: int, kind: str, exchange: str, topic: str,
                 server: str | None, method: str | None, sender: str,
                 msg_id: str, queue: str | None = None,
                 outcome: str = 'queued', origin: str | None = None) -> None:
        self.seq = seq
        self.kind = kind
        self.exchange = exchange
        self.topic = topic
        self.server = server
        self.method = method
        self.sender = sender
        self.msg_id = msg_id
        self.queue = queue
        # NOTE(journal): why, for an outcome a log line alone would explain
        # (an unsendable reply, a reply after its server was killed).
        self.reason: str | None = None
        self.real: float | None = None
        self.virtual: float | None = None
        self.origin = origin
        self._outcome = outcome
        self._tally: _Tally | None = None

    @property
    def outcome(self) -> str:
        return self._outcome

    @outcome.setter
    def outcome(self, outcome: str) -> None:
        # NOTE(journal): outcomes change in many places, under many locks,
        # after the entry may have left the journal; the tally follows
        # every change here so the counts stay exact.
        tally = self._tally
        if tally is None:
            self._outcome = outcome
        else:
            tally.move(self, outcome)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, JournalEntry)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ', '.join(f'{name}={value!r}' for name, value in
                           zip(self._FIELDS, self._values()))
        return f'JournalEntry({fields})'

    def __str__(self) -> str:
        return f'#{self.seq} {self._body()}'

    def _body(self) -> str:
        where = f'{self.topic}' + (f'.{self.server}' if self.server else '')
        what = f' {self.method}' if self.method else ''
        why = f' ({self.reason})' if self.reason else ''
        via = f' through {self.origin}' if self.origin else ''
        return (f'{self.kind}{what} to {self.exchange}/{where} '
                f'from {self.sender}{via}: {self.outcome}{why}')


class Journal:
    """A thread-safe record of `JournalEntry`: the last ``limit`` kept.

    Every entry is counted (`counts`) by kind and latest outcome, kept or
    not; `entries`, `render` and ``len()`` see the kept ones, `recorded`
    how many there were since the last `clear`.

    :param limit: how many entries to keep: ``0`` keeps none (off),
        ``None`` keeps them all; by default what `limit_from_environment`
        says.
    :raises ValueError: for a bad ``limit`` or ``FAKE_TRANSPORT_JOURNAL``.

    Example::

        broker.journal.limit = 100      # the last 100 entries; 0: off
        broker.journal.counts(kind='cast')   # {'handled': 12345}
    """

    def __init__(self, limit: int | None | _Default =
                 _Default.FROM_ENVIRONMENT) -> None:
        checked = (limit_from_environment()
                   if limit is _Default.FROM_ENVIRONMENT
                   else _check_limit(limit))
        self._lock = threading.Lock()
        self._limit = checked
        self._entries: collections.deque[JournalEntry] = collections.deque(
            maxlen=checked)
        self._tally = _Tally(self._lock)
        self._recorded = 0
        self._seq = 0
        for hook in list(_new_journal_hooks):
            hook(self)

    @property
    def limit(self) -> int | None:
        """How many entries are kept: ``0`` none, ``None`` all.

        Setting it keeps the last ``limit`` entries already recorded.
        """
        return self._limit

    @limit.setter
    def limit(self, limit: int | None) -> None:
        limit = _check_limit(limit)
        with self._lock:
            self._limit = limit
            self._entries = collections.deque(self._entries, maxlen=limit)

    @property
    def recorded(self) -> int:
        """How many entries were recorded since the last `clear`."""
        return self._recorded

    def record(self, **fields: Any) -> JournalEntry:
        """Make, count and keep (within ``limit``) a new entry.

        :param fields: the `JournalEntry` fields but ``seq``.
        :returns: the entry; set its ``outcome`` as the message moves on.
        """
        entry = JournalEntry(seq=0, **fields)
        with self._lock:
            # NOTE(journal): read under the lock, so that times follow seq.
            entry.real = _REAL_WALL_NS[0]() / _NS
            read_virtual = _virtual_clock
            if read_virtual is not None:
                entry.virtual = read_virtual()
            self._seq += 1
            entry.seq = self._seq
            entry._tally = self._tally
            counts = self._tally.counts
            key = (entry.kind, entry._outcome)
            counts[key] = counts.get(key, 0) + 1
            self._recorded += 1
            self._entries.append(entry)
        return entry

    def entries(self, **match: object) -> list[JournalEntry]:
        """Return the kept entries whose fields equal every ``match`` value.
        """
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries
                if all(getattr(e, k) == v for k, v in match.items())]

    def counts(self, kind: str | None = None) -> dict[str, int]:
        """Return how many entries have each outcome, kept or not.

        :param kind: count only entries of this kind (``'cast'``, ...).
        """
        with self._lock:
            return self._counts_locked(kind)

    def _counts_locked(self, kind: str | None) -> dict[str, int]:
        totals: collections.Counter[str] = collections.Counter()
        for (entry_kind, outcome), n in self._tally.counts.items():
            if kind is None or entry_kind == kind:
                totals[outcome] += n
        return dict(sorted(totals.items()))

    def clear(self) -> None:
        """Forget every entry and count; ``seq`` goes on from where it was.
        """
        for hook in list(_clear_hooks):
            hook(self)
        with self._lock:
            self._entries.clear()
            self._tally = _Tally(self._lock)
            self._recorded = 0

    def __len__(self) -> int:
        return len(self._entries)

    def render(self, timestamps: bool = True) -> str:
        """Return one line per kept entry, for a testtools detail.

        ``#3 [+1.250 s] call ping to ...``: each line is ``str(entry)`` with
        the entry's time since the first kept entry after its number (see
        `time_offsets`: virtual time when there is some, else ``real``).
        When some entries were not kept, a first line says how many, and
        counts every entry by outcome.

        :param timestamps: ``False`` leaves the times out (``str(entry)``).
        """
        with self._lock:
            entries = list(self._entries)
            recorded = self._recorded
            limit = self._limit
            counts = self._counts_locked(None)
        if timestamps:
            lines = [f'#{e.seq} [{offset}] {e._body()}' for e, offset in
                     zip(entries, time_offsets(entries))]
        else:
            lines = [str(e) for e in entries]
        if recorded > len(entries):
            kept = ('the journal is off' if limit == 0 else
                    f'the journal keeps the last {limit}')
            by_outcome = ', '.join(f'{outcome} {n}'
                                   for outcome, n in counts.items())
            lines.insert(0, f'({kept}: {recorded - len(entries)} of '
                            f'{recorded} entries not kept; all by outcome: '
                            f'{by_outcome})')
        return '\n'.join(lines)
