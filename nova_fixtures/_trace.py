"""The trace of a scheduled run: its steps, its decisions, their formats.

One typed record of what a `nova_fixtures._sched.Scheduler` decided, as
loom's ``Path`` and Coyote's replay strategy keep one:

* an *entry* per step: ``(tid, kind, what, chosen)``: member ``tid``
  (None: nobody had the baton) was at ``kind what`` and the baton went to
  ``chosen`` (None: nobody was runnable). ``ScheduleResult.trace`` and the
  trace file ``python -m nova_fixtures.hunt`` writes are lists of them;
* a `Key` names a step so that it survives earlier decisions changing:
  the ``n``-th time member ``tid`` reached ``kind what``;
* a `Decision` is a step where the baton did not go where a default,
  non-preemptive scheduler would send it (keep the running member, else
  the first runnable one). Forced decisions (``ScheduleFixture(forced=)``,
  hunt's ``--forced`` file) are ``{key: tid}``, the key a tuple or, in
  JSON, the key's list as a string;
* a replay checks each step against the recorded entries (``expected``)
  and stops at the first `Divergence`.

Every format here reads the files earlier versions wrote. The words of a
report are in `nova_fixtures._sched_text`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

__all__ = ['Decision', 'Divergence', 'Entry', 'Key', 'Trace',
           'forced_json', 'park_what', 'parse_entries', 'parse_forced',
           'read_entries', 'read_forced', 'write_entries', 'write_forced']

# NOTE(trace): plain tuples, not classes: a run takes hundreds of
# thousands of steps, and the fingerprint digests the entries' reprs.
#: A step: ``(tid, kind, what, chosen)``.
Entry = tuple[int | None, str, str, int | None]
#: Which step: ``(tid, kind, what, n)``, the ``n``-th time (from 0) member
#: ``tid`` reached ``kind what``.
Key = tuple[int | None, str, str, int]


@dataclasses.dataclass(frozen=True)
class Decision:
    """At step ``key`` the baton went to ``to``, which a default scheduler
    would not have picked; ``to`` was about to do ``pending`` (a kind and
    a what, as in a step)."""

    key: Key
    to: int
    pending: tuple[str, str]

    def as_json(self, text: str) -> dict[str, Any]:
        """``ScheduleResult.decisions``' form, with its readable text."""
        return {'key': list(self.key), 'to': self.to, 'text': text}


@dataclasses.dataclass(frozen=True)
class Divergence:
    """A replay left its recording at ``index`` (from 0). ``recorded``:
    the recording's entry there (None: the recording had ended, after
    ``length`` steps); ``now``: the replay's (None: the replay ended)."""

    index: int
    recorded: Entry | None
    now: Entry | None
    length: int


class Trace(Sequence[Entry]):
    """The steps of one run, in order, and its decisions.

    :param expected: the entries of a recorded run (JSON lists welcome):
        `record` reports the first step that differs.
    """

    def __init__(self, expected: Iterable[Sequence[Any]] | None = None
                 ) -> None:
        self.entries: list[Entry] = []
        self.expected = None if expected is None else \
            parse_entries(expected)
        self.divergence: Divergence | None = None
        self.decisions: list[Decision] = []
        # NOTE(trace): how many times each member reached each point: the
        # ``n`` of a `Key`.
        self.seen: dict[tuple[int | None, str, str], int] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __getitem__(self, index: Any) -> Any:
        return self.entries[index]

    def record(self, entry: Entry) -> Divergence | None:
        """Add a step; when it leaves the recording (the first time), the
        `Divergence`."""
        self.entries.append(entry)
        expected = self.expected
        if expected is None or self.divergence is not None:
            # NOTE(trace): the path of every step of a run not replayed.
            return None
        index = len(self.entries) - 1
        if index < len(expected):
            if expected[index] == entry:
                return None
            recorded: Entry | None = expected[index]
        else:
            recorded = None
        self.divergence = Divergence(index, recorded, entry, len(expected))
        return self.divergence

    def ended(self) -> Divergence | None:
        """The run is over: a replay that stopped short of its recording
        diverged where it stopped (once)."""
        expected = self.expected
        if expected is None or self.divergence is not None or \
                len(self.entries) >= len(expected):
            return None
        index = len(self.entries)
        self.divergence = Divergence(index, expected[index], None,
                                     len(expected))
        return self.divergence

    def reach(self, tid: int | None, kind: str, what: str) -> int:
        """Member ``tid`` takes a step at ``kind what``: how many times it
        did before (the ``n`` of the step's `Key`)."""
        seen = self.seen
        at = (tid, kind, what)
        n = seen.get(at, 0)
        seen[at] = n + 1
        return n

    def decided(self, key: Key, to: int, pending: tuple[str, str]) -> None:
        """At step ``key`` the baton went to ``to``, where a default
        scheduler would not have sent it; ``to`` was about to do
        ``pending``."""
        self.decisions.append(Decision(key, to, pending))

    def fingerprint(self) -> str:
        """A digest of every entry."""
        digest = hashlib.sha256()
        for entry in self.entries:
            digest.update(repr(entry).encode())
        return digest.hexdigest()[:16]


def park_what(park: Any) -> str:
    """A block step's ``what``: the park's kind and the site of what it
    waits on (a lock, a condition), else of the wait."""
    obj = park.obj
    if obj is not None and getattr(obj, 'site', None):
        return f'{park.kind} {obj.site}'
    return f'{park.kind} {park.site}' if park.site else f'{park.kind}'


def _tid(value: Any, nobody: bool) -> bool:
    if value is None:
        return nobody
    return isinstance(value, int) and not isinstance(value, bool) and \
        value >= 0


def parse_entries(entries: Iterable[Sequence[Any]]) -> list[Entry]:
    """Entries from a recorded trace (tuples, or JSON's lists).

    :raises ValueError: one is not ``[tid, kind, what, chosen]``.
    """
    parsed: list[Entry] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, (list, tuple)) and len(entry) == 4:
            tid, kind, what, chosen = entry
            if _tid(tid, True) and isinstance(kind, str) and \
                    isinstance(what, str) and _tid(chosen, True):
                parsed.append((tid, kind, what, chosen))
                continue
        raise ValueError(f'trace step {index + 1}: {entry!r} is not '
                         f'[tid, kind, what, chosen tid]')
    return parsed


def parse_forced(forced: Mapping[Any, Any]) -> dict[Key, int]:
    """Forced decisions: ``{key: tid}``, a key a tuple (or list) or the
    JSON of its list (hunt's ``--forced`` file).

    :raises ValueError: a key is not ``[tid, kind, what, n]`` or a value
        not a thread number.
    """
    parsed: dict[Key, int] = {}
    for raw, to in forced.items():
        key: Any = raw
        if isinstance(raw, str):
            try:
                key = json.loads(raw)
            except ValueError:
                key = None
        if not (isinstance(key, (list, tuple)) and len(key) == 4 and
                _tid(key[0], True) and isinstance(key[1], str) and
                isinstance(key[2], str) and _tid(key[3], False)):
            raise ValueError(f'forced decision {raw!r}: the key is not '
                             f'[tid, kind, what, n]')
        if not _tid(to, False):
            raise ValueError(f'forced decision {raw!r}: {to!r} is not a '
                             f'thread number')
        parsed[(key[0], key[1], key[2], key[3])] = to
    return parsed


def forced_json(decisions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Forced decisions, JSON-able, from ``ScheduleResult.decisions``."""
    return {json.dumps(d['key']): d['to'] for d in decisions}


# Files (hunt's trace and --forced files) ---------------------------------

def write_entries(file: IO[str], entries: Iterable[Sequence[Any]]) -> None:
    """A trace file: the JSON list of entries."""
    json.dump([list(e) for e in entries], file)


def read_entries(file: IO[str]) -> list[Entry]:
    """The entries of a trace file.

    :raises ValueError: it is not JSON, or not a list of entries.
    """
    entries = json.load(file)
    if not isinstance(entries, list):
        raise ValueError('a trace is a list of [tid, kind, what, chosen '
                         'tid]')
    return parse_entries(entries)


def write_forced(file: IO[str], decisions: Iterable[Mapping[str, Any]]
                 ) -> None:
    """A forced decisions file from ``ScheduleResult.decisions``."""
    json.dump(forced_json(decisions), file)


def read_forced(file: IO[str]) -> dict[Key, int]:
    """The decisions of a forced decisions file.

    :raises ValueError: it is not JSON, or not ``{key: tid}``.
    """
    forced = json.load(file)
    if not isinstance(forced, dict):
        raise ValueError('forced decisions are a JSON object: '
                         '{"[tid, kind, what, n]": tid}')
    return parse_forced(forced)
