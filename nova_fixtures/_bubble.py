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
import dataclasses
import itertools
import linecache
import os
import weakref
from typing import Any, Callable

from nova_fixtures import _core
from nova_fixtures import _lockdep
from nova_fixtures import _names
from nova_fixtures import _paths
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


# NOTE(bubble): in a report's stacks, the messaging layers between a
# handler and the call it makes are left out too: the user's own
# ``client.call(...)`` line is the innermost frame shown. They stay in
# sites: a lock made in oslo.messaging is named where it was made.
_TRANSPORT = os.path.dirname(os.path.dirname(
    os.path.realpath(_core.__file__))) + os.sep + 'fake_transport' + os.sep
_MESSAGING = ('/oslo_messaging/',)

_plumbing_cache: dict[str, bool] = {}
_noise_cache: dict[str, bool] = {}


def _plumbing(filename: str) -> bool:
    known = _plumbing_cache.get(filename)
    if known is None:
        known = _plumbing_cache[filename] = os.path.realpath(
            filename).startswith(_PACKAGE) or any(
                p in filename for p in _PLUMBING)
    return known


def _noise(filename: str) -> bool:
    known = _noise_cache.get(filename)
    if known is None:
        known = _noise_cache[filename] = _plumbing(filename) or \
            os.path.realpath(filename).startswith(_TRANSPORT) or any(
                p in filename for p in _MESSAGING)
    return known


# NOTE(bubble): site_of runs at every tracked acquire. Its caches are
# keyed by id(code), not code (a code object's hash is recomputed from its
# contents at each lookup); each entry holds its code object, so the id is
# not reused while the entry lives.
_plumbing_code: dict[int, tuple[Any, bool]] = {}
_site_cache: dict[tuple[int, int], tuple[Any, str]] = {}


def _user_frame(frame: Any) -> Any:
    """The innermost frame from ``frame`` out that is not plumbing."""
    known = _plumbing_code
    while frame is not None:
        code = frame.f_code
        entry = known.get(id(code))
        if entry is None:
            if len(known) > 50000:
                known.clear()
            entry = known[id(code)] = (code, _plumbing(code.co_filename))
        if not entry[1]:
            return frame
        frame = frame.f_back
    return None


def _by_instruction(cache: dict[tuple[int, int], tuple[Any, str]],
                    frame: Any, make: Callable[[Any, Any], str]) -> str:
    """``make(code, frame)`` for ``frame``'s instruction, made once.

    Keyed by instruction, not line: f_lineno is computed from it, at a cost
    that grows with the function's length.
    """
    code = frame.f_code
    key = (id(code), frame.f_lasti)
    entry = cache.get(key)
    if entry is None:
        if len(cache) > 50000:
            cache.clear()
        entry = cache[key] = (code, make(code, frame))
    return entry[1]


def site_of(frame: Any) -> str:
    """``file:line`` of the innermost frame that is not plumbing."""
    frame = _user_frame(frame)
    if frame is None:
        return '?'
    return _by_instruction(_site_cache, frame, _site_text)


def _site_text(code: Any, frame: Any) -> str:
    return f'{code.co_filename}:{frame.f_lineno}'


_class_cache: dict[tuple[int, int], tuple[Any, str]] = {}


def class_of(frame: Any) -> str:
    """``file:line:column`` of the innermost frame that is not plumbing.

    The column tells apart two locks made on one line (``a, b = Lock(),
    Lock()``), which lockdep must not merge into one class. Known by code
    object and instruction, so each site's column is looked up once.
    """
    frame = _user_frame(frame)
    if frame is None:
        return '?'
    return _by_instruction(_class_cache, frame, _class_text)


def _class_text(code: Any, frame: Any) -> str:
    lineno, lasti = frame.f_lineno, frame.f_lasti
    if not hasattr(code, 'co_positions'):
        # NOTE(bubble): Python 3.10 has no columns; the bytecode offset
        # tells two calls on one line apart just as well.
        return f'{code.co_filename}:{lineno}:@{lasti}'
    column = 0
    index = lasti // 2
    position = next(itertools.islice(code.co_positions(), index, None),
                    None) if index >= 0 else None
    if position is not None and position[2] is not None:
        column = position[2]
    return f'{code.co_filename}:{lineno}:{column}'


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
    plumbing or messaging frames, innermost last, paths short
    (`_paths`)."""
    kept = [e for e in entries if not _noise(e[0])][:limit]
    lines = []
    for filename, lineno, name in reversed(kept):
        line = linecache.getline(filename, lineno).strip()
        lines.append(f'    {_paths.short(filename)}:{lineno} in {name}: '
                     f'{line}'.rstrip())
    return lines


#: A step of a wait-for chain: (waiting thread, (kind, what), holder).
Step = tuple[int, Any, int]


@dataclasses.dataclass
class RpcRequest:
    """A call in flight: who waits for it, where it is, who handles it."""

    label: str
    caller: int | None = None
    #: the listener key of the server it was handed to
    server: int | None = None
    handler: int | None = None


@dataclasses.dataclass
class RpcServer:
    """A server's workers: how many at most, which handle what now."""

    name: str
    capacity: int | None = None
    busy: dict[int, str] = dataclasses.field(default_factory=dict)


class Bubble(_core.Core):
    """The core plus what the deadlock detector and reports observe.

    :param virtual: timed waits and sleeps follow virtual time.
    :param autojump: jump to the next deadline when all are blocked.
    :param max_virtual: virtual seconds after which the test thread gets
        `ClockError`.
    """

    def __init__(self, virtual: bool, autojump: bool = True,
                 max_virtual: float = 3600.0, ties: str = 'ordered',
                 budget_hint: str = '') -> None:
        super().__init__(virtual, autojump, max_virtual, ties, budget_hint)
        self.lockdep: _lockdep.LockGraph | None = None
        self.holding: dict[int, list[tuple[Any, str]]] = \
            collections.defaultdict(list)
        self.named_owner: dict[_lockdep.NamedLock, int] = {}
        self.named_waiting: dict[int, tuple[_lockdep.NamedLock, str]] = {}
        self.deadlocks: list[str] = []
        # NOTE(bubble): RPC waits told by fake_transport.waits: caller ->
        # the call it waits for; calls by id; servers by listener id.
        self.rpc_calls: dict[int, str] = {}
        self.rpc_requests: dict[str, RpcRequest] = {}
        self.rpc_servers: dict[int, RpcServer] = {}
        self._in_lockdep = False
        #: (new lock, held locks) class keys the lock graph has seen
        self._lockdep_seen: set[tuple[Any, ...]] = set()
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

    def lock_desc(self, lock: Any) -> str:
        """A lock as every report names it: ``Collector._lock
        (<where it was made>)``, as lock-order reports do, when an
        attribute or a module global holds it; else ``lock made at
        <where>``."""
        if isinstance(lock, _lockdep.NamedLock):
            return lock.describe()
        name = _names.bound_name(lock)
        where = _paths.shown(getattr(lock, 'site', '') or '?')
        # NOTE(bubble): a bare name is a local variable's (``lock``,
        # ``self``): it tells nothing the site doesn't.
        if name is None or '.' not in name:
            return f'lock made at {where}'
        return f'{name} ({where})'

    def held_desc(self, ident: int) -> list[str]:
        # NOTE(bubble): a lock the messaging layers took (a reply queue's,
        # held for an instant on the way into its wait) is left out, as
        # their frames are: whether a report catches it is timing.
        return [f'    holds {self.lock_desc(lock)} (acquired at '
                f'{_paths.shown(site)})'
                for lock, site in self.holding.get(ident, [])
                if not _noise(site.rsplit(':', 1)[0])]

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
            state = (f'waits at {_paths.shown(park.obj.site or "?")} '
                     f'(Condition, Event '
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

    def find_cycle(self, me: int, lock: Any) -> list[Step]:
        """The wait-for chain from ``me`` waiting on ``lock`` back to me.

        Each step is (waiting thread, what it waits for, holder). Empty if
        no cycle. Edges: an untimed lock wait goes to the lock's holder (a
        timed one gives up by itself: the back-off idiom); a call waiting
        for its reply (timed or not) goes to the thread handling it, or, if
        it is queued at a server whose workers are all busy, to every one
        of them (all must lead back). A thread waiting for a
        `threading.Lock` it holds itself is no cycle: any other thread may
        release a Lock.
        """
        holder = self._holder(lock)
        if holder is None or (holder == me and
                              not isinstance(lock, _lockdep.NamedLock)):
            return []
        return self._back_to(me, me, ('lock', lock), [holder], False,
                             set()) or []

    def rpc_cycle(self, me: int) -> list[Step]:
        """The chain from ``me``, waiting for a call's reply, back to me."""
        edge = self._waits_for(me)
        if edge is None:
            return []
        return self._back_to(me, me, *edge, set()) or []

    def _holder(self, lock: Any) -> int | None:
        if isinstance(lock, _lockdep.NamedLock):
            return self.named_owner.get(lock)
        return lock.owner if lock.role == _core.LockRole.MUTEX else None

    def _waits_for(self, ident: int) -> tuple[Any, list[int], bool] | None:
        """(what, holders, all needed) that member ``ident`` waits for,
        as an edge of the wait-for graph, or None."""
        park = self.parked.get(ident)
        if park is not None and park.kind == _core.ParkKind.LOCK and \
                park.timeout is None and not park.done:
            holder = self._holder(park.obj)
            if holder is None or holder == ident:
                return None
            return ('lock', park.obj), [holder], False
        if ident in self.named_waiting:
            named = self.named_waiting[ident][0]
            holder = self.named_owner.get(named)
            return None if holder is None else (
                ('lock', named), [holder], False)
        msg_id = self.rpc_calls.get(ident)
        request = self.rpc_requests.get(msg_id or '')
        if request is None:
            return None
        if request.handler is not None:
            return ('rpc', request), [request.handler], False
        server = self.rpc_servers.get(request.server or 0)
        if request.server is None or server is None or \
                server.capacity is None or not server.busy or \
                len(server.busy) < server.capacity:
            return None
        return ('pool', request), sorted(server.busy, key=self.name), True

    def _back_to(self, me: int, waiter: int, what: Any, holders: list[int],
                 every: bool, seen: set[int]) -> list[Step] | None:
        """The steps from ``waiter`` (waiting for ``what`` held by
        ``holders``: any, or ``every`` one) back to ``me``, or None."""
        found = None
        for holder in holders:
            if holder == me:
                rest: list[Step] | None = []
            elif holder in seen or holder not in self.members:
                rest = None
            else:
                edge = self._waits_for(holder)
                rest = None if edge is None else self._back_to(
                    me, holder, *edge, seen | {holder})
            if rest is None and every:
                return None
            if rest is not None and found is None:
                found = [(waiter, what, holder)] + rest
                if not every:
                    return found
        return found

    def cycle_error(self, chain: list[Step]) -> DeadlockError:
        """Record and return the error for a wait-for cycle (mutex held)."""
        stacks = _stacks.all_stacks()
        lines = [f'deadlock: a cycle of {len(chain)} thread(s) waiting for '
                 f'each other:']
        for waiter, what, holder in chain:
            lines.append(self._step_text(waiter, what, holder))
        for waiter, _, _ in chain:
            lines.append(f'"{self.name(waiter)}":')
            lines.extend(self.held_desc(waiter))
            lines.extend(trimmed_lines(stacks.get(waiter, [])))
        report = '\n'.join(lines)
        self.deadlocks.append(report)
        self.report(report)
        return DeadlockError(report)

    def _step_text(self, waiter: int, what: Any, holder: int) -> str:
        kind, obj = what
        if kind == 'lock':
            acquired = next((site for held, site in
                             self.holding.get(holder, []) if held == obj),
                            '?')
            return (f'  "{self.name(waiter)}" waits for '
                    f'{self.lock_desc(obj)}, held by "{self.name(holder)}" '
                    f'(acquired at {_paths.shown(acquired)})')
        if kind == 'rpc':
            return (f'  "{self.name(waiter)}" waits for the reply to '
                    f'{obj.label}, handled by "{self.name(holder)}"')
        server = self.rpc_servers[obj.server]
        busy = ', '.join(f'"{self.name(i)}"' for i in
                         sorted(server.busy, key=self.name))
        return (f'  "{self.name(waiter)}" waits for the reply to '
                f'{obj.label}, queued at {server.name}: '
                f'{len(server.busy)} of {server.capacity} workers busy '
                f'({busy})')

    # RPC waits (fake_transport.waits) ---------------------------------------

    def rpc_calling(self, me: int, msg_id: str, label: str) -> list[Step]:
        """Member ``me`` waits for ``msg_id``'s reply from now on (mutex
        held); the cycle this wait closes, if any."""
        request = self.rpc_requests.setdefault(msg_id, RpcRequest(label))
        request.caller = me
        self.rpc_calls[me] = msg_id
        return self.rpc_cycle(me)

    def rpc_call_ended(self, me: int, msg_id: str) -> None:
        if self.rpc_calls.get(me) == msg_id:
            del self.rpc_calls[me]
        request = self.rpc_requests.get(msg_id)
        if request is not None:
            request.caller = None
            if request.handler is None:
                del self.rpc_requests[msg_id]

    def rpc_queued(self, msg_id: str, label: str, server: str,
                   key: int) -> list[Step]:
        """A call reached a server (mutex held); the cycle it closes."""
        request = self.rpc_requests.setdefault(msg_id, RpcRequest(label))
        request.label = label
        request.server = key
        self.rpc_servers.setdefault(key, RpcServer(server))
        if request.caller is None:
            return []
        return self.rpc_cycle(request.caller)

    def rpc_handling(self, me: int, msg_id: str, key: int,
                     capacity: int | None) -> list[list[Step]]:
        """Member ``me``, a worker of server ``key``, took a call up (mutex
        held); the cycles its server's exhaustion closes."""
        server = self.rpc_servers.setdefault(key, RpcServer('?'))
        server.capacity = capacity
        server.busy[me] = msg_id
        request = self.rpc_requests.get(msg_id)
        if request is not None:
            request.handler = me
        found = []
        for queued in list(self.rpc_requests.values()):
            if queued.server == key and queued.handler is None and \
                    queued.caller is not None:
                chain = self.rpc_cycle(queued.caller)
                if chain:
                    found.append(chain)
        return found

    def rpc_handled(self, me: int, msg_id: str) -> None:
        for server in self.rpc_servers.values():
            if server.busy.get(me) == msg_id:
                del server.busy[me]
        request = self.rpc_requests.get(msg_id)
        if request is not None and request.handler == me:
            request.handler = None
            if request.caller is None:
                del self.rpc_requests[msg_id]

    # Detection -------------------------------------------------------------

    def take_reports(self, first: int, first_inversion: int) -> list[str]:
        """Remove the deadlock reports from the ``first`` on, and with them
        (if any) the lock-order reports from ``first_inversion`` on (mutex
        held): a block that was expected to deadlock
        (`nova_fixtures.pytest_plugin`'s ``expect_deadlock``).

        :returns: the deadlock reports removed.
        """
        reports = self.deadlocks[first:]
        del self.deadlocks[first:]
        if reports and self.lockdep is not None:
            del self.lockdep.reports[first_inversion:]
        return reports

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
                     stack: Callable[[], str] | None = None,
                     frame: Any = None) -> None:
        """``ident`` is about to take ``lock``: check the lock order.

        The acquiring stack, for a first sighting's report, is ``stack()``
        or that of ``frame`` (the acquiring caller's).
        """
        held = self.holding[ident]
        if blocking and self.lockdep is not None and held and \
                not self._in_lockdep:
            # NOTE(bubble): the graph learns nothing from a lock taken
            # under the same classes as before (the common case, a loop):
            # only a first sighting is passed on.
            # A concrete lock names its class too (a lockutils name folds
            # to its class; any other lock's concrete name is its class).
            concrete = self.concrete_lock
            key = (concrete(lock), *[concrete(h) for h, _ in held])
            if key in self._lockdep_seen:
                return
            self._lockdep_seen.add(key)
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
                    stack or (lambda: '\n'.join(trimmed_stack(frame))),
                    self._name_of_class)
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
            if held[-1][0] is lock:
                # NOTE(bubble): the usual case: the last lock taken.
                held.pop()
                return
            for i in range(len(held) - 2, -1, -1):
                if held[i][0] is lock:
                    del held[i]
                    break

    def self_deadlock_text(self, me: int, lock: Any, site: str) -> str:
        return (f'self-deadlock: "{self.name(me)}" acquires the '
                f'{self.lock_desc(lock)} again, at '
                f'{_paths.shown(site or "?")}, '
                f'while holding it '
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

    @staticmethod
    def concrete_lock(lock: Any) -> str:
        """``lockutils:<name>`` for a named lock, else its class: a lock
        made by code has no name of its own to tell it from its class."""
        if isinstance(lock, _lockdep.NamedLock):
            return lock.concrete
        return lock.lock_class or lock.site or '?'
