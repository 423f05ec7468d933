"""The matrix's harness: one scenario, in real time, then in virtual time.

A scenario is a function of a `Run`. It builds everything it uses (objects
made before a clock keep real locks), works in periods (``run.period``
seconds), records what happens with ``run.mark(label)`` (the offset from
the start, in periods, and a label), and stops and joins whatever it
started before it returns. `MatrixTestCase.check` runs it with
``P_REAL``, then inside a `ClockFixture` with ``P_VIRTUAL``, and asserts
that both runs are the expected one: the same labels in the same order,
the same outcome (what the scenario returned), and the same offsets,
exact in virtual time and within ``TOLERANCE`` in real time.
"""

import os
import signal
import threading
import time

import fixtures
import testtools

import nova_fixtures

# NOTE(matrix): the real period: long enough that a run's lateness (below)
# stays well under the tolerance on a loaded host, short enough that the
# real reference of a 10.5-period scenario takes about 11 s. Shorter ones
# flaked on a 2-CPU host shared with another suite's workers and two busy
# loops (load average 8): at 0.25 s a Timer chain's 10th beat came 0.42 P
# late; at 0.5 s re-arming loops lost their 11th run (lateness past the
# 0.5 P margin) in all three attempts of a few rows.
P_REAL = 1.0
# NOTE(matrix): the virtual period, a service's (unscaled): whole seconds,
# so that every virtual offset is an exact float. Under 20 s on purpose:
# oslo.service's periodic tasks add a jitter of int(spacing * [0, 0.05))
# seconds, which is 0 below 20 s in both runs.
P_VIRTUAL = 10.0
# NOTE(matrix): how far a real run may be from its expected offset, in
# periods. A real wait ends late by the wake-up latency (well under 1 ms on
# an idle host, up to tens of ms on a loaded 2-CPU one) plus the Python
# code that runs before the mark, and the mechanisms that re-arm from the
# previous run (a Timer chain, a dynamic looping call, tenacity, futurist's
# last_started) add those up over as many as 14 periods; oslo.service's
# fixed-interval loop rounds its compensation to 10 ms, so a run may also
# come a few ms early. 0.4 P (400 ms) covers that, and stays under the
# 0.5 P that every scenario keeps between a run and the end of its span
# (10.5 P, not 10 P), so no run the tolerance accepts could have flipped
# a count.
TOLERANCE = 0.4
# NOTE(matrix): virtual offsets are exact: whole virtual seconds over a
# power-of-two base, but for the nanosecond the clock lets pass when a
# deadline loop polls twice at its exact deadline (as_completed): 1 ns is
# 1e-10 P. Only a scenario whose expected offsets derive from a real clock
# reading (the import-time row) passes a tolerance of its own.
EXACT = 1e-9


class Run:
    """One run of a scenario: its period, marks and clock."""

    def __init__(self, mode, period, clock=None):
        self.mode = mode
        self.period = period
        self.clock = clock
        self.marks = []
        self.outcome = None
        self.t0 = time.monotonic()

    def seconds(self, periods):
        """``periods`` periods, in seconds."""
        return periods * self.period

    def now(self):
        """Periods since the start, on this thread's clock."""
        return (time.monotonic() - self.t0) / self.period

    def mark(self, label):
        """Record ``label`` at the current offset (any thread)."""
        self.marks.append((self.now(), label))

    def until(self, periods):
        """Block until ``periods`` periods after the start: the end of a
        scenario's span (the scenario's own timing, not a wait for other
        threads to catch up)."""
        delay = self.t0 + periods * self.period - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # allow-sleep: the span, real or virtual

    def describe(self):
        offsets = ', '.join(f'{o:.3f}' if self.mode == 'real' else f'{o:g}'
                            for o, _ in self.marks)
        labels = [label for _, label in self.marks]
        return (f'{self.mode} (P = {self.period:g} s): {len(self.marks)} '
                f'mark(s) at [{offsets}]\n    labels {labels}\n'
                f'    outcome {self.outcome!r}')


class VirtualStall(Exception):
    """Virtual time stood still while a test thread ran (see `_StallGuard`).
    """


class _StallGuard:
    """Interrupt the test thread when the clock reports a stall.

    A virtual run that waits in real time (a real ``time.sleep``) or polls
    without letting time move (a livelock) freezes virtual time; the
    clock's watchdog reports it after ``max_real_stall`` real seconds and
    sets ``clock.stalled``. This guard's thread, started before the clock
    (so not a test thread: it waits in real time and never holds time up),
    then raises `VirtualStall` in the main thread through a signal, so that
    the row fails in seconds with the clock's report instead of running
    out the test timeout. Only from the main thread (signal handlers run
    there); elsewhere it does nothing.
    """

    def __init__(self):
        self.fired = False
        self._armed = threading.Event()
        self._done = threading.Event()
        self._clock = None
        self._thread = None
        self._old = None

    def start(self):
        if threading.current_thread() is not threading.main_thread():
            return
        self._old = signal.signal(signal.SIGUSR1, self._raise)
        self._thread = threading.Thread(target=self._watch,
                                        name='matrix-stall-guard')
        self._thread.start()

    def arm(self, clock):
        self._clock = clock
        self._armed.set()

    def stop(self):
        if self._thread is None:
            return
        self._done.set()
        self._armed.set()
        self._thread.join()
        signal.signal(signal.SIGUSR1, self._old)
        self._thread = None

    def _watch(self):
        self._armed.wait()
        while not self._done.is_set():
            # NOTE(matrix): real waits, on events made before the clock.
            if self._clock.stalled.wait(0.05) and not self._done.is_set():
                self.fired = True
                signal.pthread_kill(threading.main_thread().ident,
                                    signal.SIGUSR1)
                return

    def _raise(self, signum, frame):
        raise VirtualStall('virtual time stood still while a test thread '
                           'ran (see the clock report below)')


class MatrixTestCase(testtools.TestCase):
    """Runs scenarios real then virtual; no thread may outlive a test."""

    P_REAL = P_REAL
    P_VIRTUAL = P_VIRTUAL
    # NOTE(matrix): how many times the real reference is measured before
    # a row fails on it. A loaded host can stall a real run for a quarter
    # of a second at any moment (seen with another suite's workers and
    # busy loops sharing 2 CPUs); the real run is a reference, not the
    # subject, so a noisy one is measured again. The virtual run, the
    # subject, runs once and must be exact.
    REAL_ATTEMPTS = 3

    def setUp(self):
        super().setUp()
        timeout = int(os.environ.get('OS_TEST_TIMEOUT', 0) or 0)
        if timeout > 0:
            self.useFixture(fixtures.Timeout(timeout, gentle=True))
        # NOTE(matrix): before the clock, so that its check runs after the
        # clock's cleanup, as in tests/unit/nova_fixtures/test_clock.py.
        self.useFixture(nova_fixtures.ThreadLeakFixture())

    def run_real(self, scenario, period=None):
        run = Run('real', period or self.P_REAL)
        run.outcome = scenario(run)
        return run

    def run_virtual(self, scenario, period=None):
        guard = _StallGuard()
        guard.start()
        self.addCleanup(guard.stop)
        # NOTE(matrix): the watchdog checks every max_real_stall seconds
        # and reports a stall at the second or third check; a healthy
        # virtual run here takes well under a second of real time, so 2 s
        # is no false alarm and a stall fails the row in 2 to 6 s.
        clock = self.useFixture(nova_fixtures.ClockFixture(
            max_real_stall=2.0))
        run = Run('virtual', period or self.P_VIRTUAL, clock)
        guard.arm(clock)
        try:
            try:
                run.outcome = scenario(run)
            finally:
                guard.stop()
        except VirtualStall as error:
            run.outcome = f'VirtualStall: {error}'
        return run

    def check(self, scenario, expected, outcome, p_virtual=None,
              virtual_tolerance=EXACT):
        """Run ``scenario`` real, then virtual, and compare both runs.

        :param expected: the marks, ``[(offset in periods, label), ...]``,
            or a function of a `Run` that returns them (for a scenario
            whose marks depend on when it starts).
        :param outcome: what the scenario must return in both runs.
        :param p_virtual: the virtual period, if not ``P_VIRTUAL``.
        :returns: the real run and the virtual one.
        """
        def problem_of(run, tolerance):
            want = expected(run) if callable(expected) else expected
            return self._compare(run, want, outcome, tolerance)

        attempts = []
        for _ in range(self.REAL_ATTEMPTS):
            real = self.run_real(scenario)
            problem = problem_of(real, TOLERANCE)
            attempts.append((real, problem))
            if problem is None:
                break
        _log_real_attempts(self.id(), attempts)
        virtual = self.run_virtual(scenario, p_virtual)
        problems = []
        if problem is not None:
            problems.append(f'real (all {len(attempts)} attempts): '
                            f'{problem}')
        virtual_problem = problem_of(virtual, virtual_tolerance)
        if virtual_problem is not None:
            problems.append(f'virtual: {virtual_problem}')
        if problems:
            want = expected(virtual) if callable(expected) else expected
            offsets = ', '.join(f'{o:g}' for o, _ in want)
            report = [
                '; '.join(problems),
                f'  expected: {len(want)} mark(s) at [{offsets}]\n'
                f'    labels {[label for _, label in want]}\n'
                f'    outcome {outcome!r}',
            ]
            report += ['  ' + run.describe() for run, _ in attempts]
            report.append('  ' + virtual.describe())
            report.append(f'  clock: {virtual.clock.render()}')
            if problem is not None:
                report.append(
                    f'  (the REAL-TIME reference is off: a loaded host, or a '
                    f'tolerance of {TOLERANCE} P too tight)')
            self.fail('\n'.join(report))
        return real, virtual

    @staticmethod
    def _compare(run, want, outcome, tolerance):
        got_labels = [label for _, label in run.marks]
        want_labels = [label for _, label in want]
        if len(run.marks) != len(want):
            return f'{len(run.marks)} mark(s), expected {len(want)}'
        if got_labels != want_labels:
            return 'labels differ'
        if run.outcome != outcome:
            return f'outcome {run.outcome!r}, expected {outcome!r}'
        for (got, label), (offset, _) in zip(run.marks, want):
            if abs(got - offset) > tolerance:
                return (f'{label!r} at {got:.6g} P, expected {offset:g} P '
                        f'(tolerance {tolerance:g} P)')
        return None


def ticks(offsets, label='run'):
    """Expected marks: ``label`` at each offset."""
    return [(offset, label) for offset in offsets]


class Gate:
    """A hung target's gate, opened at the end of the scenario."""

    def __init__(self):
        self.event = threading.Event()

    def hang(self):
        self.event.wait()
        return 'released'

    def open(self):
        self.event.set()


def _log_real_attempts(test_id, attempts):
    """Append the real reference's re-measurements to the file named by
    ``NOVA_FIXTURES_MATRIX_LOG``, if set (for flake checks)."""
    path = os.environ.get('NOVA_FIXTURES_MATRIX_LOG')
    if not path or len(attempts) == 1:
        return
    with open(path, 'a') as log:
        for run, problem in attempts:
            log.write(f'{test_id}: {problem or "ok"}\n')
