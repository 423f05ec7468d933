"""ScheduleFixture: run a test's threads one at a time, in a seeded order.

Design and the hunt for a hang that happens once in fifty runs:
``doc/source/hunting.rst``. The scheduler itself is
`nova_fixtures._sched`; its strategies are in `nova_fixtures._strategies`,
its trace (and the formats of recorded traces and forced decisions) in
`nova_fixtures._trace`, the words of its reports in
`nova_fixtures._sched_text`.
"""

from __future__ import annotations

import _thread
import dataclasses
import hashlib
import os
import random
import sys
import threading
import time
import uuid
from typing import Any, Callable, Mapping

import fixtures

from fake_transport import driver as driver_mod
from fake_transport import journal as journal_mod
from nova_fixtures import _bubble
from nova_fixtures import _registry
from nova_fixtures import _sched
from nova_fixtures import _sched_text
from nova_fixtures import _state
from nova_fixtures import _strategies
from nova_fixtures import _trace
from nova_fixtures import clock as clock_mod

__all__ = ['ENVIRONMENT', 'ScheduleError', 'ScheduleFixture',
           'ScheduleResult', 'STRATEGIES', 'last_result', 'request']

STRATEGIES = _strategies.STRATEGIES

# NOTE(schedule): the variables `requested` reads, so that a ClockFixture
# in a child process (stestr's workers) runs on a schedule:
# ``python -m nova_fixtures.run --schedule SEED`` sets them.
ENVIRONMENT = {
    'seed': 'NOVA_FIXTURES_SCHEDULE',
    'strategy': 'NOVA_FIXTURES_SCHEDULE_STRATEGY',
    'depth': 'NOVA_FIXTURES_SCHEDULE_DEPTH',
    'steps': 'NOVA_FIXTURES_SCHEDULE_STEPS',
}

_REAL_UUID4 = uuid.uuid4
_requested: dict[str, Any] | None = None
_last: ScheduleResult | None = None


class ScheduleError(RuntimeError):
    """A schedule was misused, or its replay diverged from the recording.
    """


@dataclasses.dataclass
class ScheduleResult:
    """What one scheduled run did.

    :ivar seed: the seed. :ivar strategy: ``'random'`` or ``'pct'``.
    :ivar steps: how many decisions the scheduler took.
    :ivar choices: how many of them had more than one thread to pick from
        (PCT's ``steps`` estimate for this test).
    :ivar switches: how many of them passed control to another thread.
    :ivar preemptions: switches away from a thread that could go on.
    :ivar fingerprint: a digest of the whole decision trace.
    :ivar journal: a digest of every message journal made during the run
        (every field, virtual times included), and ``journal_entries``
        how many entries it covers.
    :ivar causes: why a replay may not be exact; empty when it is.
    :ivar divergence: where a replay left the recorded trace, or None.
    :ivar decisions: the decisions a default, non-preemptive scheduler
        would not take: ``{'key': [...], 'to': tid, 'text': ...}``.
    :ivar trace: every step: ``[tid, kind, what, chosen tid]``.
    :ivar names: tid -> thread name.
    :ivar token: the schedule as one word (``pct-d3-k16-4``): what
        ``--replay``, ``seed=`` and ``SCHEDULE_SEED`` take to run it again.
    """

    seed: int
    strategy: str
    steps: int
    choices: int
    switches: int
    preemptions: int
    fingerprint: str
    journal: str
    journal_entries: int
    causes: list[str]
    divergence: str | None
    decisions: list[dict[str, Any]]
    trace: list[Any]
    names: dict[int, str]
    token: str = ''

    @property
    def exact(self) -> bool:
        """Whether the same seed replays this run exactly."""
        return not self.causes and self.divergence is None

    def summary(self) -> str:
        return _sched_text.summary(self)


def request(**options: Any) -> Callable[[], None]:
    """Run every `ClockFixture` set up from now on under a schedule.

    :param options: `ScheduleFixture` arguments (``seed=`` at least).
    :returns: a function that withdraws the request.
    """
    global _requested
    _check(options)
    _requested = dict(options)

    def withdraw() -> None:
        global _requested
        _requested = None

    return withdraw


def requested(environ: Mapping[str, str] | None = None
              ) -> dict[str, Any] | None:
    """The `ScheduleFixture` arguments asked for by `request` or by the
    environment (`ENVIRONMENT`; ``environ``, when given, instead of
    `request` and ``os.environ``), else None.

    :raises ScheduleError: a variable is not valid, naming it.
    """
    if environ is None and _requested is not None:
        return dict(_requested)
    env = os.environ if environ is None else environ
    seed = env.get(ENVIRONMENT['seed'])
    if not seed:
        return None
    options: dict[str, Any] = {}
    for name, variable in ENVIRONMENT.items():
        value = env.get(variable, '').strip()
        if not value:
            continue
        if name == 'strategy':
            options[name] = value
            continue
        if name == 'seed':
            try:
                _strategies.parse(value)
            except ValueError as exc:
                raise ScheduleError(f'{variable}: {exc}') from None
            options[name] = value if not value.isdigit() else int(value)
            continue
        try:
            options[name] = int(value)
        except ValueError:
            raise ScheduleError(f'{variable}={value!r}: {name} must be a '
                                f'whole number') from None
        try:
            _strategies.check({name: options[name]})
        except ValueError as exc:
            raise ScheduleError(f'{variable}={value!r}: {exc}') from None
    try:
        _check(options)
    except ValueError as exc:
        raise ScheduleError(f'{ENVIRONMENT["seed"]}={seed!r}: {exc}') \
            from None
    return options


def last_result() -> ScheduleResult | None:
    """The result of the last `ScheduleFixture` cleaned up in this
    process."""
    return _last


def _resolve(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with a schedule token spelled out and every option of
    the strategy left out (or None) given its default."""
    resolved = _strategies.resolve(options)
    for name, value in _strategies.DEFAULTS.items():
        if resolved.get(name) is None:
            resolved[name] = value
    return resolved


def _check(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - {'seed', 'strategy', 'depth', 'steps',
                                     'expected', 'forced', 'stall',
                                     'max_steps'})
    if unknown:
        raise TypeError(f'unknown schedule option(s): {", ".join(unknown)}')
    if 'seed' not in options:
        raise ScheduleError('a schedule needs a seed')
    options = _resolve(options)
    _strategies.check(options)
    if options.get('expected') is not None:
        _trace.parse_entries(options['expected'])
    if options.get('forced') is not None:
        _trace.parse_forced(options['forced'])
    stall = options.get('stall', 2.0)
    if stall is not None and (not isinstance(stall, (int, float)) or
                              isinstance(stall, bool) or not stall > 0):
        raise ValueError(f'stall must be a number of seconds > 0 or None, '
                         f'got {stall!r}')
    cap = options.get('max_steps', _sched.MAX_STEPS)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise ValueError(f'max_steps must be a whole number >= 1, got '
                         f'{cap!r}')


class ScheduleFixture(_state.GuardedFixture):
    """Run the test's threads one at a time, in an order seeded by ``seed``.

    Needs the virtual clock: set up after a `ClockFixture` (or with none
    active, it sets one up). From then on only one test thread runs at a
    time; control passes at sync points only (lock and condition
    operations, queue and event waits, sleeps, thread start and exit), and
    at each the strategy picks the next runnable thread. Time jumps only
    when no test thread is runnable. The same seed gives the same
    decisions, the same message journal and the same outcome, run after
    run, unless ``result().causes`` says why it can't (a thread outside
    the test woke one of its threads, real I/O in an ``io_wait``, a test
    thread blocked outside any instrumented wait for ``stall`` real
    seconds, string hashing randomised).

    While active, ``uuid.uuid4()`` in test threads and the ``random``
    module's global generator are seeded from ``seed`` too.

    :param seed: a whole number >= 0, or a schedule token the hunt printed
        (``'pct-d3-k16-4'``), which names the strategy, depth and steps
        too: give those only to repeat the token's.
    :param strategy: ``'pct'`` (the default: random priorities with
        ``depth - 1`` change points, Burckhardt et al. 2010; few switches,
        so cheap) or ``'random'`` (a uniform pick at each point: a switch
        at most of them, several times slower).
    :param depth: PCT's bug depth (default 3, at most 100).
    :param steps: PCT's estimate of how many steps the test takes
        (default 2000).
    :param expected: the ``trace`` of a recorded run: a replay that leaves
        it fails the test with `ScheduleError`, naming the first step that
        differs.
    :param forced: decisions to take (``{(tid, kind, what, n): tid}``, or
        the key as a JSON list), every other one keeping the running
        thread (shrinking).
    :param stall: real seconds a running test thread may make no progress
        and use no CPU before the schedule lets every thread go; None:
        never (a debugger may stop a thread for as long as it likes).
    :param max_steps: the most steps the run's trace keeps (about 90
        bytes each; default ``nova_fixtures._sched.MAX_STEPS``, 4 million).
        A run that reaches it lets every thread go on freely, keeps the
        steps so far in ``result()``, and fails the test with
        `ScheduleError` at cleanup, naming the cap, how to raise it and
        where the run was: most likely a thread spinning.

    Example::

        self.useFixture(nova_fixtures.ClockFixture())
        schedule = self.useFixture(ScheduleFixture(seed=42))
    """

    def __init__(self, seed: int | str, strategy: str | None = None,
                 depth: int | None = None, steps: int | None = None,
                 expected: list[list[Any]] | None = None,
                 forced: Mapping[tuple[Any, ...], int] | None = None,
                 stall: float | None = 2.0,
                 max_steps: int = _sched.MAX_STEPS) -> None:
        super().__init__()
        options = {'seed': seed, 'strategy': strategy, 'depth': depth,
                   'steps': steps, 'expected': expected, 'stall': stall,
                   'max_steps': max_steps}
        _check(options)
        named = _resolve(options)
        self.seed: int = named['seed']
        self.strategy: str = named['strategy']
        self.depth: int = named['depth']
        self.steps: int = named['steps']
        self.token = _strategies.token(self.seed, self.strategy, self.depth,
                                       self.steps)
        self.expected = expected
        self.forced = None if forced is None else \
            _trace.parse_forced(forced)
        self.stall = stall
        self.max_steps = max_steps
        self._result: ScheduleResult | None = None

    def _setUp(self) -> None:
        bubble = clock_mod.active_bubble()
        if bubble is None:
            self.useFixture(clock_mod.ClockFixture())
            bubble = clock_mod.active_bubble()
        assert bubble is not None
        if not bubble.virtual:
            raise ScheduleError(
                'a DeadlockFixture is active without a ClockFixture; a '
                'schedule needs the virtual clock: set up the ClockFixture '
                'first')
        me = _thread.get_ident()
        if not bubble.is_member(me):
            raise ScheduleError('set up a ScheduleFixture from a test thread')
        if bubble.sched is not None:
            raise ScheduleError(
                f'a schedule (seed {bubble.sched.seed}) is already active '
                f'on this clock; schedules don\'t nest')
        sched = _sched.Scheduler(
            bubble, self.seed,
            _strategies.make(self.seed, self.strategy, self.depth,
                             self.steps, self.forced),
            _trace.Trace(self.expected), self.max_steps)
        with bubble.mutex:
            sched.adopt(me, bubble.members[me])
            for ident, name in sorted(bubble.members.items(),
                                      key=lambda i: i[1]):
                if ident != me:
                    sched.adopt(ident, name)
            bubble.attach_scheduler(sched)
        self.sched = sched
        self.bubble = bubble
        if sys.flags.hash_randomization and \
                os.environ.get('PYTHONHASHSEED', 'random') == 'random':
            sched.causes.append(_sched_text.unhashed())
        self._journals: list[journal_mod.Journal] = []
        self._digest = hashlib.sha256()
        self._entries = 0
        self.addCleanup(journal_mod.watch_new_journals(
            self._journals.append, self._take_journal))
        self._seed_randomness()
        self.addDetail('nova-fixtures:schedule',
                       _state.lazy_text(self._render))
        if self.stall is not None:
            self._start_watchdog(self.stall)
        self.addCleanup(self._finish)
        self._ready()

    def _seed_randomness(self) -> None:
        state = random.getstate()
        self.addCleanup(random.setstate, state)
        random.seed(f'random:{self.seed}')
        ids = random.Random(f'uuid:{self.seed}')
        bubble = self.bubble

        def uuid4() -> uuid.UUID:
            if bubble.is_member(_thread.get_ident()):
                with bubble.mutex:
                    bits = ids.getrandbits(128)
                return uuid.UUID(int=bits, version=4)
            return _REAL_UUID4()

        self.useFixture(fixtures.MonkeyPatch('uuid.uuid4', uuid4))
        # NOTE(schedule): memory:// message ids: a per-process prefix and
        # a process-wide counter; per seed and from 0, for the journal.
        prefix = f'{random.Random(f"ids:{self.seed}").getrandbits(64):016x}'
        self.addCleanup(driver_mod.reset_ids(prefix))

    def _start_watchdog(self, stall: float) -> None:
        """A raw thread (not a test thread, not in ``threading``) that lets
        every thread go when the running one is stuck outside any
        instrumented wait: no step for ``stall`` real seconds, no CPU."""
        sched, bubble = self.sched, self.bubble
        stop = _thread.allocate_lock()
        stop.acquire()
        done = _thread.allocate_lock()
        done.acquire()

        def cpu_of(ident: int) -> float | None:
            try:
                return time.clock_gettime(time.pthread_getcpuclockid(ident))
            except (OSError, AttributeError):
                return None

        def runnable(ident: int) -> bool:
            """The OS says the thread runs or waits for a CPU (Linux's
            ``/proc``): starved by a loaded machine, not blocked."""
            thread = threading._active.get(ident)  # type: ignore
            native = getattr(thread, 'native_id', None)
            try:
                with open(f'/proc/self/task/{native}/stat') as f:
                    return f.read().rsplit(')', 1)[1].split()[0] == 'R'
            except (OSError, IndexError):
                return False

        def watch() -> None:
            try:
                last: tuple[int, int | None] = (-1, None)
                since = time.perf_counter()
                cpu: float | None = None
                while not stop.acquire(True, min(stall / 4, 0.25)):
                    with bubble.mutex:
                        if not sched.enabled:
                            return
                        step, ident, name = sched.running()
                    now = (step, ident)
                    if now != last or ident is None:
                        last, since = now, time.perf_counter()
                        cpu = None if ident is None else cpu_of(ident)
                        continue
                    if time.perf_counter() - since < stall:
                        continue
                    used = cpu_of(ident)
                    if cpu is not None and used is not None and \
                            used - cpu > stall / 10 or runnable(ident):
                        # NOTE(schedule): busy computing: not stuck.
                        last, since, cpu = now, time.perf_counter(), used
                        continue
                    frame = sys._current_frames().get(ident)
                    where = _bubble.site_of(frame) if frame else '?'
                    with bubble.mutex:
                        sched.give_up(_sched_text.stalled(name, where, step))
                    return
            finally:
                done.release()

        _thread.start_new_thread(watch, ())

        def stop_watchdog() -> None:
            stop.release()
            done.acquire()

        self.addCleanup(stop_watchdog)

    def _finish(self) -> None:
        global _last
        sched, bubble = self.sched, self.bubble
        with bubble.mutex:
            sched.finish()
            bubble.detach_scheduler()
        for journal in list(self._journals):
            self._take_journal(journal)
        digest, entries = self._digest, self._entries
        self._result = _last = ScheduleResult(
            seed=self.seed, strategy=self.strategy, steps=sched.step,
            choices=sched.choices,
            switches=sched.switches, preemptions=sched.preemptions,
            fingerprint=sched.fingerprint(), journal=digest.hexdigest()[:16],
            journal_entries=entries, causes=list(sched.causes),
            divergence=sched.divergence, decisions=sched.decision_list(),
            trace=list(sched.trace), names=dict(sched.names),
            token=self.token)
        if sched.divergence is not None:
            raise ScheduleError(sched.divergence)
        if sched.over_cap is not None:
            raise ScheduleError(sched.over_cap)

    def _take_journal(self, journal: journal_mod.Journal) -> None:
        """Add a journal's entries to the digest, once: before it is
        cleared (a bus's cleanup) or at the end."""
        if journal not in self._journals:
            return
        self._journals.remove(journal)
        self._digest.update(f'journal {journal.recorded}\n'.encode())
        for entry in journal.entries():
            self._digest.update(f'{entry!r} {entry.virtual!r}\n'.encode())
            self._entries += 1

    def result(self) -> ScheduleResult:
        """What the run did; complete once the fixture is cleaned up."""
        if self._result is None:
            raise ScheduleError('the schedule has not finished: read its '
                                'result after the fixture\'s cleanup')
        return self._result

    def _render(self) -> str:
        if self._result is not None:
            return self._result.summary()
        sched = self.sched
        return f'schedule {self.token}: {sched.step} steps so far'


def attach_requested(clock: clock_mod.ClockFixture) -> None:
    """Put a `ClockFixture` just set up on the requested schedule, if any.
    """
    options = requested()
    if options is not None:
        clock.useFixture(ScheduleFixture(**options))


_registry.on_clock_setup(attach_requested)
