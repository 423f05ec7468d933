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
import threading
import time

import fixtures
import testtools

import nova_fixtures

# NOTE(matrix): the real period: long enough that a run's lateness (below)
# stays well under the tolerance, short enough that the real reference of
# a 10.5-period scenario takes under 3 s.
P_REAL = 0.25
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
# come a few ms early. 0.4 P (100 ms) covers that, and stays under the
# 0.5 P that every scenario keeps between a run and the end of its span
# (10.5 P, not 10 P), so no run the tolerance accepts could have flipped
# a count.
TOLERANCE = 0.4
# NOTE(matrix): virtual offsets are exact: whole virtual seconds over a
# power-of-two base. Only a scenario whose expected offsets derive from a
# real clock reading (the import-time row) passes a tolerance of its own.
EXACT = 0.0


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


class MatrixTestCase(testtools.TestCase):
    """Runs scenarios real then virtual; no thread may outlive a test."""

    P_REAL = P_REAL
    P_VIRTUAL = P_VIRTUAL

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
        clock = self.useFixture(nova_fixtures.ClockFixture())
        run = Run('virtual', period or self.P_VIRTUAL, clock)
        run.outcome = scenario(run)
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
        real = self.run_real(scenario)
        virtual = self.run_virtual(scenario, p_virtual)
        problems = []
        lines = []
        for run, tolerance in ((real, TOLERANCE),
                               (virtual, virtual_tolerance)):
            want = expected(run) if callable(expected) else expected
            lines.append('  ' + run.describe())
            problem = self._compare(run, want, outcome, tolerance)
            if problem:
                problems.append(f'{run.mode}: {problem}')
        if problems:
            want = expected(virtual) if callable(expected) else expected
            offsets = ', '.join(f'{o:g}' for o, _ in want)
            report = [
                '; '.join(problems),
                f'  expected: {len(want)} mark(s) at [{offsets}]\n'
                f'    labels {[label for _, label in want]}\n'
                f'    outcome {outcome!r}',
            ] + lines
            clock = virtual.clock.render() if virtual.clock else ''
            report.append(f'  clock: {clock}')
            if any(p.startswith('real') for p in problems):
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
