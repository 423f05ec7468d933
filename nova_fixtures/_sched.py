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

The scheduler only passes the baton. Whom it goes to is its strategy's
choice (`nova_fixtures._strategies`: random, PCT, forced); every step and
decision goes into its trace (`nova_fixtures._trace`), which also checks a
replay against its recording; the words of its reports are in
`nova_fixtures._sched_text`.

Exactness: a wait the scheduler can't order (a park ended by a thread
outside the bubble, real I/O in an ``io_wait`` scope, a member blocked
outside any instrumented wait) makes the run not exactly replayable; it is
recorded in ``causes``, never hidden. A member that stops making progress
outside an instrumented wait releases the schedule (`release`): from then
on threads run freely, as under the plain clock.
"""

from __future__ import annotations

import _thread
import sys
from typing import Any

from nova_fixtures import _bubble
from nova_fixtures import _core
from nova_fixtures import _sched_text
from nova_fixtures import _strategies
from nova_fixtures import _trace

__all__ = ['MAX_STEPS', 'Scheduler', 'STRATEGIES']

STRATEGIES = _strategies.STRATEGIES
#: How many steps a run's trace keeps by default (about 90 bytes each):
#: ten times what a heavy test takes; a run that reaches it is most likely
#: a thread spinning (a poll loop, a NaN timeout), which a schedule would
#: otherwise follow, and record, until memory runs out.
MAX_STEPS = 4_000_000

get_ident = _thread.get_ident
_SCOPES = (_core.ParkKind.IO, _core.ParkKind.LISTEN)


class Scheduler:
    """The baton: the one member thread that runs, chosen by a strategy.

    :param core: the bubble (its mutex guards this state).
    :param seed: the seed (the strategy is seeded with it already).
    :param strategy: picks who runs at each step with a choice
        (`nova_fixtures._strategies`).
    :param trace: records the steps and decisions, and checks a replay
        against a recording (`nova_fixtures._trace`); a new one if None.
    :param max_steps: the trace's cap: the step that would go past it
        stops the schedule (`over_cap` says so, and so do the causes: the
        threads run freely from there), the steps before it stay, and a
        replay with the same cap stops at the same step.
    """

    def __init__(self, core: _core.Core, seed: int,
                 strategy: _strategies.Strategy,
                 trace: _trace.Trace | None = None,
                 max_steps: int = MAX_STEPS) -> None:
        self.core = core
        self.seed = seed
        self.max_steps = max_steps
        self.over_cap: str | None = None
        self.strategy = strategy
        self.enabled = True
        self.tid_of: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.gates: dict[int, Any] = {}
        self.runnable: set[int] = set()
        self.current: int | None = None
        # NOTE(sched): members whose gate was opened and not yet passed.
        self.open: set[int] = set()
        self.atomic: dict[int, int] = {}
        # NOTE(sched): tid -> how many io/listen scopes it is in: it runs
        # unscheduled (real I/O) until it leaves them.
        self.unscheduled: dict[int, int] = {}
        # NOTE(sched): tid -> the point (kind, what) it waits at its gate
        # to pass.
        self.about_to: dict[int, tuple[str, str]] = {}
        self.step = 0
        self.choices = 0
        self.switches = 0
        self.preemptions = 0
        self.trace = _trace.Trace() if trace is None else trace
        self.causes: list[str] = []
        self.divergence: str | None = None
        self._batch = 0

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
        self.about_to[tid] = ('enter', '')
        self.strategy.admit(tid)

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
                if tid not in self.runnable or tid in self.unscheduled:
                    return
                # NOTE(sched): a member that ran when the schedule began.
                self._cause(_sched_text.already_running(self.names[tid]))
            else:
                self.about_to[tid] = (kind, what)
                chosen = self._pick(tid, kind, what, stays=True)
                if chosen == tid:
                    return
        self._wait_gate(tid)

    def blocked(self, park: _core.Park) -> None:
        """``park``'s member waits (mutex held): pick who runs instead."""
        tid = self.tid_of.get(park.ident)
        if tid is None or not self.enabled or tid not in self.runnable:
            return
        if park.kind in _SCOPES:
            self.unscheduled[tid] = self.unscheduled.get(tid, 0) + 1
            self._cause(_sched_text.real_io(self.names[tid], park.kind,
                                            park.site))
        self.runnable.discard(tid)
        if self.current == tid and not self.atomic.get(tid):
            self.current = None
            what = _trace.park_what(park)
            self.about_to[tid] = ('wake', what)
            self._pick(tid, 'block', what, stays=False)

    def woken(self, park: _core.Park, by: int) -> None:
        """``park`` ended (mutex held): its member is runnable again."""
        tid = self.tid_of.get(park.ident)
        if tid is None or not self.enabled:
            return
        if park.kind in _SCOPES:
            depth = self.unscheduled.get(tid, 0) - 1
            if depth > 0:
                self.unscheduled[tid] = depth
                return
            self.unscheduled.pop(tid, None)
        elif tid in self.unscheduled:
            return
        self.runnable.add(tid)
        if by not in self.tid_of and not self.atomic.get(tid) and \
                park.kind not in _SCOPES:
            self._cause(_sched_text.outsider_woke(
                self.core.name(by), self.names[tid], _trace.park_what(park)))
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
            if tid is None or not self.enabled or tid in self.unscheduled or (
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
                self._cause(_sched_text.interrupted(self.names[tid]))
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
        trace = self.trace
        if len(trace.entries) >= self.max_steps:
            # NOTE(sched): memory is bounded. The trace so far is kept
            # (the report, a replay's check), and every thread goes on
            # freely: a spinning one no longer holds the others back.
            self.over_cap = _sched_text.over_cap(
                self.seed, self.max_steps, self.choices, self.switches,
                (tid, kind, what), self.names)
            self.give_up(self.over_cap)
            return tid
        if not runnable:
            self.current = None
            self._record((tid, kind, what, None))
            return None
        self.step += 1
        n = trace.reach(tid, kind, what)
        if len(runnable) == 1:
            chosen = default = next(iter(runnable))
        else:
            self.choices += 1
            candidates = sorted(runnable)
            default = tid if stays and tid is not None else candidates[0]
            chosen = self.strategy.pick(candidates, default,
                                        (tid, kind, what, n), self.choices)
        self._record((tid, kind, what, chosen))
        if not self.enabled:
            # NOTE(sched): the replay diverged here and let everyone go.
            return tid
        if chosen != default:
            if stays:
                self.preemptions += 1
            trace.decided((tid, kind, what, n), chosen,
                          self.about_to.get(chosen, ('run', '')))
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
        return [d.as_json(_sched_text.describe(d, self.names))
                for d in self.trace.decisions]

    def _record(self, entry: _trace.Entry) -> None:
        found = self.trace.record(entry)
        if found is None:
            return
        # NOTE(sched): the replay left its recording: say where, stop.
        stack = _bubble.trimmed_stack(sys._getframe(1))
        self.divergence = _sched_text.divergence(found, self.names, stack)
        self.release()

    def running(self) -> tuple[int, int | None, str | None]:
        """(step, ident, name) of the member holding the baton (mutex
        held); ident and name None when nobody holds it or scheduling
        stopped."""
        if not self.enabled or self.current is None:
            return self.step, None, None
        ident = next((i for i, t in self.tid_of.items()
                      if t == self.current), None)
        return self.step, ident, self.names.get(self.current)

    def give_up(self, cause: str) -> None:
        """Stop scheduling for ``cause``, kept with the run's causes
        (mutex held)."""
        self._cause(cause)
        self.release()

    def _cause(self, text: str) -> None:
        if text not in self.causes:
            self.causes.append(text)

    # Ending ----------------------------------------------------------------

    def finish(self) -> None:
        """The run is over (mutex held): a replay that stopped short of
        its recording diverged there; every member runs freely again."""
        found = self.trace.ended()
        if found is not None and self.divergence is None:
            self.divergence = _sched_text.divergence(found, self.names)
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
        return self.trace.fingerprint()


class _Batch:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def __enter__(self) -> None:
        self.scheduler._batch += 1

    def __exit__(self, *exc: object) -> None:
        self.scheduler._batch -= 1
        if not self.scheduler._batch:
            self.scheduler.dispatch()
