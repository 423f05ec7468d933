"""The bubble: the core, plus what deadlock detection and reports observe.

Prior art: the JVM's ``findDeadlockedThreads`` (locks know owners, threads
know what they wait for), Linux lockdep. Design: ``doc/source/deadlocks.rst``.

`nova_fixtures._core` owns membership, parks and time; this module adds
the detector's bookkeeping (which thread holds which lock, lockutils names,
the lock-order graph) and the text of reports. Locks live in
`nova_fixtures._vlock`.
"""

from __future__ import annotations

import collections
import linecache
import os
import weakref
from typing import Any, Callable

from nova_fixtures import _core
from nova_fixtures import _lockdep
from nova_fixtures import _names
from nova_fixtures import _stacks

__all__ = ['Bubble', 'ClockError', 'DeadlockError', 'site_of',
           'trimmed_lines', 'trimmed_stack']

get_ident = _core.get_ident
ClockError = _core.ClockError
DeadlockError = _core.DeadlockError

_SCOPE_NAMES = {_core.ParkKind.IO: 'io_wait',
                _core.ParkKind.LISTEN: 'io_listen'}

# NOTE(bubble): frames from these files are plumbing, not the code a
# report should point at.
# NOTE(bubble): real paths on both sides: a package imported through
# 'x/../nova_fixtures' must still know its own frames.
_PACKAGE = os.path.dirname(os.path.realpath(__file__)) + os.sep
_PLUMBING = ('/threading.py', '/queue.py', '/contextlib.py',
             '/testtools/', '/unittest/', '/fixtures/', '/stestr/',
             '/subunit/', '/concurrent/futures/', '/futurist/',
             '/oslo_concurrency/lockutils.py', '/_pytest/', '/pluggy/',
             '<frozen ')


_plumbing_cache: dict[str, bool] = {}


def _plumbing(filename: str) -> bool:
    known = _plumbing_cache.get(filename)
    if known is None:
        known = _plumbing_cache[filename] = os.path.realpath(
            filename).startswith(_PACKAGE) or any(
                p in filename for p in _PLUMBING)
    return known


def site_of(frame: Any) -> str:
    """``file:line`` of the innermost frame that is not plumbing."""
    while frame is not None and _plumbing(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return '?'
    return f'{frame.f_code.co_filename}:{frame.f_lineno}'


def class_of(frame: Any) -> str:
    """``file:line:column`` of the innermost frame that is not plumbing.

    The column tells apart two locks made on one line (``a, b = Lock(),
    Lock()``), which lockdep must not merge into one class.
    """
    while frame is not None and _plumbing(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return '?'
    code = frame.f_code
    if not hasattr(code, 'co_positions'):
        # NOTE(bubble): Python 3.10 has no columns; the bytecode offset
        # tells two calls on one line apart just as well.
        return f'{code.co_filename}:{frame.f_lineno}:@{frame.f_lasti}'
    column = 0
    positions = list(code.co_positions())
    index = frame.f_lasti // 2
    if 0 <= index < len(positions) and positions[index][2] is not None:
        column = positions[index][2]
    return f'{code.co_filename}:{frame.f_lineno}:{column}'


def trimmed_stack(frame: Any, limit: int = 8) -> list[str]:
    """The stack of ``frame`` (of this thread) without plumbing frames,
    innermost last."""
    entries = []
    while frame is not None:
        code = frame.f_code
        entries.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return trimmed_lines(entries, limit)


def trimmed_lines(entries: list[_stacks.Entry], limit: int = 8
                  ) -> list[str]:
    """Report lines for a stack given innermost first (`_stacks`), without
    plumbing frames, innermost last."""
    kept = [e for e in entries if not _plumbing(e[0])][:limit]
    lines = []
    for filename, lineno, name in reversed(kept):
        line = linecache.getline(filename, lineno).strip()
        lines.append(f'    {filename}:{lineno} in {name}: {line}'.rstrip())
    return lines


class Bubble(_core.Core):
    """The core plus what the deadlock detector and reports observe.

    :param virtual: timed waits and sleeps follow virtual time.
    :param autojump: jump to the next deadline when all are blocked.
    :param max_virtual: virtual seconds after which the test thread gets
        `ClockError`.
    """

    def __init__(self, virtual: bool, autojump: bool = True,
                 max_virtual: float = 3600.0, ties: str = 'ordered') -> None:
        super().__init__(virtual, autojump, max_virtual, ties)
        self.lockdep: _lockdep.LockGraph | None = None
        self.holding: dict[int, list[tuple[Any, str]]] = \
            collections.defaultdict(list)
        self.named_owner: dict[_lockdep.NamedLock, int] = {}
        self.named_waiting: dict[int, tuple[_lockdep.NamedLock, str]] = {}
        self.deadlocks: list[str] = []
        self._in_lockdep = False
        # NOTE(bubble): a lock of each lockdep class, to name it in reports.
        self._examples: dict[str, Any] = {}

    @property
    def now(self) -> float:
        """Virtual seconds since the start, exact for whole nanoseconds."""
        return self.now_ns / 1_000_000_000

    def all_blocked(self) -> None:
        """Every member is blocked for good (mutex held): report it."""
        me = self._self_waiter()
        if me is not None:
            park = self.parked[me]
            headline = self.self_deadlock_text(me, park.obj, park.site)
            others = {i: n for i, n in self.members.items() if i != me}
            report = headline
            if others:
                report += '\n' + self.describe(
                    'and every other test thread is blocked', others)
        else:
            report = self.describe(
                f'all {len(self.members)} test thread(s) are blocked and '
                f'nothing can wake them')
        self.report(report)
        self.deadlocks.append(report)
        self.fail_root(DeadlockError(report))

    def _self_waiter(self) -> int | None:
        """A member waiting for a mutex it holds itself, if any."""
        for ident, park in sorted(self.parked.items(),
                                  key=lambda i: self.name(i[0])):
            if park.kind == _core.ParkKind.LOCK and park.obj.owner == ident:
                return ident
        return None

    # Reports ---------------------------------------------------------------

    def held_desc(self, ident: int) -> list[str]:
        return [f'    holds {self.lock_desc(lock)} (acquired at {site})'
                for lock, site in self.holding.get(ident, [])]

    def describe(self, headline: str,
                 members: dict[int, str] | None = None) -> str:
        """A report: each member, what it waits for, what it holds, where.
        """
        stacks = _stacks.all_stacks()
        lines = [headline + ':']
        members = self.members.copy() if members is None else members
        for ident, name in sorted(members.items(), key=lambda i: i[1]):
            lines.append(f'  "{name}" {self.state_of(ident)}')
            lines.extend(self.held_desc(ident))
            lines.extend(trimmed_lines(stacks.get(ident, [])))
        if self.stalled_on is not None:
            lines.append(f'  {self.stalled_on}')
        return '\n'.join(lines)

    def state_of(self, ident: int) -> str:
        """What member ``ident`` is doing, as a report says it."""
        park = self.parked.get(ident)
        if park is None:
            return 'is running (not on an instrumented wait)'
        if park.resumed:
            return (f'is running (in its {_SCOPE_NAMES[park.kind]} scope, '
                    f'after a wait there ended)')
        kind = park.kind
        if kind == _core.ParkKind.SLEEP:
            state = 'is sleeping'
        elif kind == _core.ParkKind.WAITER:
            state = (f'waits at {park.obj.site or "?"} (Condition, Event '
                     f'or queue)')
        elif kind == _core.ParkKind.LOCK:
            owner = park.obj.owner
            state = (f'waits for {self.lock_desc(park.obj)}, held by '
                     f'"{self.name(owner)}"')
            if owner is not None and owner not in self.members:
                state += ' (not a test thread)'
        elif kind == _core.ParkKind.IO:
            state = f'waits for I/O ({_SCOPE_NAMES[kind]})'
        elif kind == _core.ParkKind.LISTEN:
            state = f'listens for requests ({_SCOPE_NAMES[kind]})'
        else:
            state = 'settles'
        if park.deadline is not None:
            state += f' until {park.deadline / 1e9:g} s'
        return state

    def find_cycle(self, me: int, lock: Any) -> list[tuple[int, Any, int]]:
        """The wait-for chain from ``me`` waiting on ``lock`` back to me.

        Each step is (waiting thread, lock, holder). Empty if no cycle.
        Only untimed waits are edges: a timed one gives up by itself (the
        back-off idiom). A thread waiting for a `threading.Lock` it holds
        itself is no cycle: any other thread may release a Lock.
        """
        chain = []
        waiter, current = me, lock
        seen = set()
        while True:
            if isinstance(current, _lockdep.NamedLock):
                holder = self.named_owner.get(current)
            else:
                holder = current.owner \
                    if current.role == _core.LockRole.MUTEX else None
            if holder is None or (waiter, holder) in seen or (
                    holder == waiter and
                    not isinstance(current, _lockdep.NamedLock)):
                return []
            seen.add((waiter, holder))
            chain.append((waiter, current, holder))
            if holder == me:
                return chain
            park = self.parked.get(holder)
            if park is not None and park.kind == _core.ParkKind.LOCK and \
                    park.timeout is None and not park.done:
                waiter, current = holder, park.obj
            elif holder in self.named_waiting:
                waiter, current = holder, self.named_waiting[holder][0]
            else:
                return []

    def cycle_error(self, chain: list[tuple[int, Any, int]]) -> DeadlockError:
        """Record and return the error for a wait-for cycle (mutex held)."""
        stacks = _stacks.all_stacks()
        lines = [f'deadlock: a cycle of {len(chain)} thread(s) waiting for '
                 f'each other:']
        for waiter, lock, holder in chain:
            acquired = next((site for held, site in
                             self.holding.get(holder, []) if held == lock),
                            '?')
            lines.append(f'  "{self.name(waiter)}" waits for '
                         f'{self.lock_desc(lock)}, held by '
                         f'"{self.name(holder)}" (acquired at {acquired})')
        for waiter, _, _ in chain:
            lines.append(f'"{self.name(waiter)}":')
            lines.extend(self.held_desc(waiter))
            lines.extend(trimmed_lines(stacks.get(waiter, [])))
        report = '\n'.join(lines)
        self.deadlocks.append(report)
        self.report(report)
        return DeadlockError(report)

    # Detection -------------------------------------------------------------

    def start_detecting(self, lockdep: bool = False) -> None:
        """Detect deadlocks from now on, and lock-order inversions with
        ``lockdep`` (mutex held)."""
        self.lockdep = _lockdep.LockGraph() if lockdep else None
        super().start_detecting()

    def stop_detecting(self, deactivate: bool) -> None:
        self.lockdep = None
        super().stop_detecting(deactivate)

    # Named (lockutils) locks ---------------------------------------------

    def named_wait(self, me: int, named: _lockdep.NamedLock, site: str,
                   stack: Callable[[], str]) -> None:
        """Member ``me`` is about to wait for the lockutils lock ``named``
        (mutex held): raise `DeadlockError` if it holds it already or the
        wait closes a cycle, else note the wait."""
        self.note_acquire(me, named, True, stack)
        if self.named_owner.get(named) == me:
            raise self.self_deadlock(me, named, site)
        chain = self.find_cycle(me, named)
        if chain:
            raise self.cycle_error(chain)
        self.named_waiting[me] = (named, site)

    def named_taken(self, me: int, named: _lockdep.NamedLock,
                    site: str) -> None:
        """Member ``me`` holds ``named`` now (mutex held)."""
        self.named_waiting.pop(me, None)
        self.named_owner[named] = me
        self.note_held(me, named, site)

    def named_released(self, me: int, named: _lockdep.NamedLock) -> None:
        """Member ``me`` released ``named`` (mutex held)."""
        if self.named_owner.get(named) == me:
            del self.named_owner[named]
        self.note_released(me, named)

    def named_wait_over(self, me: int) -> None:
        """Member ``me`` no longer waits for a named lock (mutex held)."""
        self.named_waiting.pop(me, None)

    # Held locks and lock order -----------------------------------------------

    def note_acquire(self, ident: int, lock: Any, blocking: bool,
                     stack: Callable[[], str]) -> None:
        """``ident`` is about to take ``lock``: check the lock order."""
        held = self.holding[ident]
        if blocking and self.lockdep is not None and held and \
                not self._in_lockdep:
            # NOTE(bubble): a GC callback taking a lock inside this walk
            # re-enters here; its lock order is incidental, skip it.
            self._in_lockdep = True
            try:
                for one in [lock] + [h for h, _ in held]:
                    cls = self.lock_class(one)
                    if cls not in self._examples:
                        self._examples[cls] = (
                            one if isinstance(one, _lockdep.NamedLock)
                            else weakref.ref(one))
                self.lockdep.acquire(
                    self.name(ident),
                    [(self.lock_class(h), self.concrete_lock(h), site)
                     for h, site in held],
                    (self.lock_class(lock), self.concrete_lock(lock)),
                    stack, self._name_of_class)
            finally:
                self._in_lockdep = False

    def _name_of_class(self, cls: str) -> str | None:
        """The name code gives the first lock seen of class ``cls``."""
        example = self._examples.get(cls)
        if example is None or isinstance(example, _lockdep.NamedLock):
            return None
        lock = example()
        return None if lock is None else _names.bound_name(lock)

    def note_held(self, ident: int, lock: Any, site: str) -> None:
        self.holding[ident].append((lock, site))

    def note_released(self, ident: int | None, lock: Any) -> None:
        if ident is None:
            return
        held = self.holding.get(ident)
        if held:
            for i in range(len(held) - 1, -1, -1):
                if held[i][0] is lock:
                    del held[i]
                    break

    def self_deadlock_text(self, me: int, lock: Any, site: str) -> str:
        return (f'self-deadlock: "{self.name(me)}" acquires the '
                f'{self.lock_desc(lock)} again, at {site}, while holding it '
                f'(not re-entrant)')

    def self_deadlock(self, me: int, lock: Any, site: str) -> DeadlockError:
        """Record and return the error for re-taking a held lock."""
        error = DeadlockError(self.self_deadlock_text(me, lock, site))
        self.deadlocks.append(str(error))
        return error

    @staticmethod
    def lock_class(lock: Any) -> str:
        """The lockdep class: ``lockutils:<name, ids folded>`` or where the
        lock was made."""
        if isinstance(lock, _lockdep.NamedLock):
            return lock.lock_class
        return lock.lock_class or lock.site or '?'

    @classmethod
    def concrete_lock(cls, lock: Any) -> str:
        """``lockutils:<name>`` for a named lock, else its class: a lock
        made by code has no name of its own to tell it from its class."""
        if isinstance(lock, _lockdep.NamedLock):
            return lock.concrete
        return cls.lock_class(lock)
