"""The scheduler of schedule mode: one member thread runs at a time.

Prior art: Microsoft Coyote and AWS Shuttle (control every scheduling
decision, replay a bug from its seed), PCT (Burckhardt et al., ASPLOS
2010). Design: ``doc/source/hunting.rst``.

Each member thread has a *gate*, a raw lock held while the thread may not
run. The thread holding the baton (``current``) runs; every other
*runnable* member waits at its gate; parked members wait on their park as
usual. Control passes only at sync points:

* `Scheduler.point`: a member is about to take or has released a lock,
  has started a thread, ...; the strategy picks the next runnable member,
  which may be the same one (no switch) or another (a preemption);
* a park (`Scheduler.blocked`): the current member waits, so the strategy
  picks who runs instead, or nobody is runnable and the core moves time
  (`nova_fixtures._core`);
* an end of a park (`Scheduler.woken`) makes its member runnable; it
  waits at its gate (`Scheduler.wait_turn`) until it is picked.

Members are numbered (``tid``) in the order they start, so decisions
don't depend on thread idents. A starter keeps the baton while
``Thread.start`` waits for the new thread to boot (`Scheduler.atomic`).
All of the state is guarded by the core's mutex.

Exactness: a wait the scheduler can't order (a park ended by a thread
outside the bubble, real I/O in an ``io_wait`` scope, a member blocked
outside any instrumented wait) makes the run not exactly replayable; it is
recorded in ``causes``, never hidden. A member that stops making progress
outside an instrumented wait releases the schedule (`release`): from then
on threads run freely, as under the plain clock.
"""

from __future__ import annotations

import _thread
import hashlib
import linecache
import os
import random
import re
import sys
from typing import Any

from nova_fixtures import _bubble

__all__ = ['Scheduler', 'STRATEGIES']

STRATEGIES = ('random', 'pct')

get_ident = _thread.get_ident

# NOTE(sched): how a trace entry's kind reads in a shrunk schedule's
# report: what the thread was about to do when the decision was taken.
_VERBS = {'acquire': 'took', 'release': 'released', 'start': 'started',
          'exit': 'exited', 'wake': 'woke from', 'enter': 'began',
          'block': 'blocked on'}
_readable_cache: dict[str, str] = {}
# NOTE(sched): ``self._lock = threading.Lock()``: the name assigned.
_ASSIGNED = re.compile(r'\s*([\w.]+)\s*=[^=]')


def _readable(what: str) -> str:
    """``lock self.instance (gallery/services.py:22)`` for a step's
    ``what`` naming a lock's creation site ``/path/file.py:22``: the name
    the creating line assigns it to, and the path from the working
    directory. Else ``what`` unchanged."""
    known = _readable_cache.get(what)
    if known is not None:
        return known
    prefix, _, site = what.rpartition(' ')
    path, _, line = site.rpartition(':')
    text = what
    if path and line.isdigit():
        assigned = _ASSIGNED.match(linecache.getline(path, int(line)))
        short = os.path.relpath(path)
        if short.startswith('..'):
            short = path
        name = f'{assigned.group(1)} ' if assigned else ''
        text = f'{prefix + " " if prefix else ""}{name}({short}:{line})'
    _readable_cache[what] = text
    return text


class Scheduler:
    """Seeded choice of the one member thread that runs.

    :param core: the bubble (its mutex guards this state).
    :param seed: the seed; the same seed gives the same decisions.
    :param strategy: ``'random'`` (a uniform pick at each point) or
        ``'pct'`` (priorities, ``depth - 1`` change points among ``steps``).
    :param depth: PCT's bug depth ``d``.
    :param steps: PCT's estimate ``k`` of the number of steps with a choice
        (more than one runnable thread).
    :param expected: the trace of an earlier run with the same schedule,
        to report where this one diverges from it.
    :param forced: ``{(tid, kind, what, n): tid}``: at the ``n``-th time
        thread ``tid`` reaches that point, run the other thread; every
        other decision keeps the current thread running (shrinking).
    """

    def __init__(self, core: Any, seed: int, strategy: str = 'pct',
                 depth: int = 3, steps: int = 2000,
                 expected: list[list[Any]] | None = None,
                 forced: dict[tuple[Any, ...], int] | None = None) -> None:
        self.core = core
        self.seed = seed
        self.strategy = strategy
        self.depth = depth
        self.steps = steps
        self.rng = random.Random(f'{strategy}:{seed}')
        self.enabled = True
        self.tid_of: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.gates: dict[int, Any] = {}
        self.runnable: set[int] = set()
        self.current: int | None = None
        # NOTE(sched): members whose gate was opened and not yet passed.
        self.open: set[int] = set()
        self.atomic: dict[int, int] = {}
        self.outside: dict[int, int] = {}
        self.pending: dict[int, tuple[str, str]] = {}
        self.step = 0
        self.choices = 0
        self.switches = 0
        self.preemptions = 0
        self.trace: list[tuple[Any, ...]] = []
        self.causes: list[str] = []
        self.expected = expected
        self.divergence: str | None = None
        self.forced = forced
        self.seen: dict[tuple[int | None, str, str], int] = {}
        self.decisions: list[tuple[Any, ...]] = []
        self._batch = 0
        self.priority: dict[int, float] = {}
        self.change_points: dict[int, int] = {}
        if strategy == 'pct' and depth > 1:
            points = self.rng.sample(range(1, max(steps, depth) + 1),
                                     depth - 1)
            self.change_points = {s: i + 1 for i, s in enumerate(points)}

    # Threads ---------------------------------------------------------------

    def adopt(self, ident: int, name: str) -> int:
        """Number a member (mutex held); the first one holds the baton."""
        tid = len(self.names)
        self.tid_of[ident] = tid
        self._new(tid, name)
        if self.current is None and tid == 0:
            self.current = tid
        return tid

    def _new(self, tid: int, name: str) -> None:
        self.names[tid] = name
        gate = _thread.allocate_lock()
        gate.acquire()
        self.gates[tid] = gate
        self.runnable.add(tid)
        self.pending[tid] = ('enter', '')
        # NOTE(sched): PCT gives each thread a random priority in (1, 2);
        # change points lower the running one below every start priority.
        self.priority[tid] = 1 + self.rng.random()

    def spawn(self, name: str) -> int | None:
        """A member is starting a thread: number it, runnable (mutex held).
        """
        if not self.enabled:
            return None
        tid = len(self.names)
        self._new(tid, name)
        return tid

    def forget(self, tid: int | None) -> None:
        """A thread `spawn` numbered did not start after all."""
        if tid is not None:
            with self.core.mutex:
                self.runnable.discard(tid)

    def entered(self, tid: int | None) -> None:
        """The started thread runs its target: wait to be picked."""
        if tid is None:
            return
        with self.core.mutex:
            self.tid_of[get_ident()] = tid
        self.wait_turn()

    def exited(self, ident: int) -> None:
        """A member leaves the bubble (mutex held): hand the baton on."""
        tid = self.tid_of.pop(ident, None)
        if tid is None:
            return
        self.atomic.pop(tid, None)
        if not self.enabled:
            return
        self.runnable.discard(tid)
        if self.current == tid:
            self.current = None
            self._pick(tid, 'exit', self.names[tid], stays=False)

    # Sync points -----------------------------------------------------------

    def point(self, kind: str, what: str) -> None:
        """The calling member is at a sync point: maybe let another run.

        Called without the core's mutex; a point reached inside another
        critical section of the same thread (a GC callback) is skipped.
        """
        core = self.core
        mutex = core.mutex
        if mutex._is_owned():
            return
        with mutex:
            tid = self.tid_of.get(get_ident())
            if tid is None or not self.enabled or self.atomic.get(tid):
                return
            if tid != self.current:
                if tid not in self.runnable or tid in self.outside:
                    return
                # NOTE(sched): a member that ran when the schedule began.
                self._cause(f'"{self.names[tid]}" was already running when '
                            f'the schedule began')
            else:
                self.pending[tid] = (kind, what)
                chosen = self._pick(tid, kind, what, stays=True)
                if chosen == tid:
                    return
        self._wait_gate(tid)

    def blocked(self, park: Any) -> None:
        """``park``'s member waits (mutex held): pick who runs instead."""
        tid = self.tid_of.get(park.ident)
        if tid is None or not self.enabled or tid not in self.runnable:
            return
        if park.kind in ('io', 'listen'):
            self.outside[tid] = self.outside.get(tid, 0) + 1
            self._cause(f'"{self.names[tid]}" waits for real I/O '
                        f'({park.kind}, at {park.site or "an io scope"}), '
                        f'which the schedule can\'t order')
        self.runnable.discard(tid)
        if self.current == tid and not self.atomic.get(tid):
            self.current = None
            what = _what(park)
            self.pending[tid] = ('wake', what)
            self._pick(tid, 'block', what, stays=False)

    def woken(self, park: Any, by: int) -> None:
        """``park`` ended (mutex held): its member is runnable again."""
        tid = self.tid_of.get(park.ident)
        if tid is None or not self.enabled:
            return
        if park.kind in ('io', 'listen'):
            depth = self.outside.get(tid, 0) - 1
            if depth > 0:
                self.outside[tid] = depth
                return
            self.outside.pop(tid, None)
        elif tid in self.outside:
            return
        self.runnable.add(tid)
        if by not in self.tid_of and not self.atomic.get(tid) and \
                park.kind not in ('io', 'listen'):
            self._cause(f'"{self.core.name(by)}" (not a test thread) woke '
                        f'"{self.names[tid]}" from {_what(park)}')
        if not self._batch:
            self.dispatch()

    def batch(self) -> _Batch:
        """Wake several members at once before anyone is picked."""
        return _Batch(self)

    def dispatch(self) -> None:
        """Give the baton to a runnable member if nobody has it (mutex
        held)."""
        if self.enabled and self.current is None and self.runnable:
            self._pick(None, 'wake', '', stays=False)

    def wait_turn(self) -> None:
        """Wait, as a runnable member, until the scheduler picks us."""
        core = self.core
        with core.mutex:
            tid = self.tid_of.get(get_ident())
            if tid is None or not self.enabled or tid in self.outside or (
                    tid == self.current and tid not in self.open):
                return
        self._wait_gate(tid)

    def _wait_gate(self, tid: int) -> None:
        try:
            self.gates[tid].acquire()
            with self.core.mutex:
                self.open.discard(tid)
        except BaseException:
            # NOTE(sched): a signal handler (the test timeout) unwinds this
            # thread out of turn: the schedule can't hold any more.
            with self.core.mutex:
                self._cause(f'"{self.names[tid]}" was interrupted while '
                            f'waiting for its turn')
                self.release()
            raise

    def atomic_begin(self) -> None:
        """The calling member keeps the baton through its waits until
        `atomic_end` (``Thread.start`` waiting for the thread to boot)."""
        with self.core.mutex:
            tid = self.tid_of.get(get_ident())
            if tid is not None:
                self.atomic[tid] = self.atomic.get(tid, 0) + 1

    def atomic_end(self) -> None:
        with self.core.mutex:
            tid = self.tid_of.get(get_ident())
            if tid is not None:
                depth = self.atomic.get(tid, 0) - 1
                if depth > 0:
                    self.atomic[tid] = depth
                else:
                    self.atomic.pop(tid, None)

    # Deciding --------------------------------------------------------------

    def _pick(self, tid: int | None, kind: str, what: str,
              stays: bool) -> int | None:
        """Record a step and hand the baton to the strategy's choice.

        ``stays``: the calling member ``tid`` stays runnable (a point);
        else it is blocking or leaving (or ``tid`` is None: nobody had the
        baton). Returns whom the baton went to. Kept cheap: a test takes
        hundreds of thousands of steps.
        """
        runnable = self.runnable
        if not runnable:
            self.current = None
            self._record((tid, kind, what, None))
            return None
        self.step += 1
        default: int | None
        if len(runnable) == 1:
            chosen = default = next(iter(runnable))
        else:
            self.choices += 1
            candidates = sorted(runnable)
            default = tid if stays else candidates[0]
            if self.forced is not None:
                chosen = self._forced_choice(tid, kind, what, candidates,
                                             default)
            elif self.strategy == 'pct':
                if tid is not None and self.choices in self.change_points:
                    self.priority[tid] = -self.change_points[self.choices]
                chosen = max(candidates, key=self.priority.__getitem__)
            else:
                chosen = candidates[self.rng.randrange(len(candidates))]
        self._record((tid, kind, what, chosen))
        if not self.enabled:
            # NOTE(sched): the replay diverged here and let everyone go.
            return tid
        key = (tid, kind, what)
        if chosen != default:
            if stays:
                self.preemptions += 1
            self.decisions.append(
                (key, self.seen.get(key, 0), chosen,
                 self.pending.get(chosen, ('run', ''))))
        self.seen[key] = self.seen.get(key, 0) + 1
        self.current = chosen
        if chosen != tid:
            self.switches += 1
            self.open.add(chosen)
            self.gates[chosen].release()
        return chosen

    def decision_list(self) -> list[dict[str, Any]]:
        """The decisions a default scheduler (keep the running thread, else
        the first runnable one) would not take: their keys (for ``forced``),
        whom they picked and what that meant."""
        return [{'key': [*key, n], 'to': chosen,
                 'text': self._describe(key[0], key[1], key[2], chosen,
                                        pending)}
                for key, n, chosen, pending in self.decisions]

    def _key(self, tid: int | None, kind: str, what: str) -> list[Any]:
        """Which step: the ``n``-th time ``tid`` reached ``kind what``
        (steps move when earlier decisions change; this key moves less).
        """
        return [tid, kind, what, self.seen.get((tid, kind, what), 0)]

    def _forced_choice(self, tid: int | None, kind: str, what: str,
                       candidates: list[int], default: int | None) -> int:
        assert self.forced is not None
        key = tuple(self._key(tid, kind, what))
        target = self.forced.get(key)
        if target is not None and target in candidates:
            return target
        return candidates[0] if default is None else default

    def _record(self, entry: tuple[Any, ...]) -> None:
        self.trace.append(entry)
        expected = self.expected
        if expected is None or self.divergence is not None:
            return
        index = len(self.trace) - 1
        if index < len(expected) and tuple(expected[index]) == entry:
            return
        frame = sys._getframe(1)
        if index >= len(expected):
            headline = (f'the replay diverged at step {index + 1}: the '
                        f'recorded run ended after {len(expected)} steps')
        else:
            want = expected[index]
            headline = (f'the replay diverged at step {index + 1}: recorded '
                        f'{self._entry_text(want)}, now '
                        f'{self._entry_text(entry)}')
        lines = [headline, 'at:'] + _bubble.trimmed_stack(frame)
        self.divergence = '\n'.join(lines)
        self.release()

    def _entry_text(self, entry: Any) -> str:
        tid, kind, what, chosen = entry

        def name(tid: int | None) -> str:
            if tid is None:
                return 'nobody'
            return f'"{self.names.get(tid, f"thread #{tid}")}"'

        return f'{name(tid)} at {kind} {what} -> {name(chosen)}'

    def _describe(self, tid: int | None, kind: str, what: str,
                  chosen: int, pending: tuple[str, str]) -> str:
        """``"B" took <lock> before "A" released <lock>``: the picked
        thread's pending step, then the one it went before."""
        other_kind, other_what = pending
        other = f'"{self.names[chosen]}" {_VERBS.get(other_kind, other_kind)}'
        if other_what:
            other += f' {_readable(other_what)}'
        if tid is None:
            return f'{other} first'
        me = f'"{self.names[tid]}" {_VERBS.get(kind, kind)}'
        if what and kind != 'start':
            me += f' {_readable(what)}'
        elif kind == 'start':
            me += f' "{what}"'
        return f'{other} before {me}'

    def _cause(self, text: str) -> None:
        if text not in self.causes:
            self.causes.append(text)

    # Ending ----------------------------------------------------------------

    def finish(self) -> None:
        """The run is over (mutex held): a replay that stopped short of
        its recording diverged there; every member runs freely again."""
        expected = self.expected
        if expected is not None and self.divergence is None and \
                len(self.trace) < len(expected):
            index = len(self.trace)
            self.divergence = (
                f'the replay diverged at step {index + 1}: it ended there, '
                f'the recorded run went on to step {len(expected)} (next: '
                f'{self._entry_text(expected[index])})')
        self.release()

    def release(self) -> None:
        """Stop scheduling (mutex held): every member runs freely again."""
        if not self.enabled:
            return
        self.enabled = False
        for tid in sorted(self.runnable):
            if tid != self.current and tid not in self.open:
                self.open.add(tid)
                self.gates[tid].release()

    def fingerprint(self) -> str:
        """A digest of the whole trace."""
        digest = hashlib.sha256()
        for entry in self.trace:
            digest.update(repr(entry).encode())
        return digest.hexdigest()[:16]


class _Batch:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def __enter__(self) -> None:
        self.scheduler._batch += 1

    def __exit__(self, *exc: object) -> None:
        self.scheduler._batch -= 1
        if not self.scheduler._batch:
            self.scheduler.dispatch()


def _what(park: Any) -> str:
    obj = park.obj
    if obj is not None and getattr(obj, 'site', None):
        return f'{park.kind} {obj.site}'
    return f'{park.kind} {park.site}' if park.site else park.kind
