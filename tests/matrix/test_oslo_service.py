"""Rows from oslo.service: periodic_task driven as services drive it, and
the threading backend's looping calls (tests/__init__.py imports
fake_transport first, which selects that backend, as nova_fixtures does).
"""

import types

import fixtures
import futurist
from oslo_config import cfg
from oslo_service.backend._threading import loopingcall as threading_lc
from oslo_service import loopingcall
from oslo_service import periodic_task
from oslo_service import threadgroup

from tests.matrix import base


class _Executors:
    """Shut down the futurist executors oslo.service's looping calls make.

    The threading backend runs each loop on a ``futurist.ThreadPoolExecutor``
    it never shuts down; its idle worker goes only when the executor is
    garbage collected (a reference cycle), so it would outlive the test
    (as tests/unit/nova_fixtures/test_clock.py notes). The backend's module
    gets a ``futurist`` whose executor class records its instances, and the
    scenario shuts them down once its loops are over. A subclass, so that
    the clock's watch of ``futurist.ThreadPoolExecutor.submit`` still
    applies.
    """

    def __init__(self):
        self.made = []
        made = self.made

        class Recorded(futurist.ThreadPoolExecutor):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                made.append(self)

        shim = types.SimpleNamespace(ThreadPoolExecutor=Recorded)
        self._patch = fixtures.MonkeyPatch(
            'oslo_service.backend._threading.loopingcall.futurist', shim)

    def __enter__(self):
        self._patch.setUp()
        return self

    def __exit__(self, *exc_info):
        try:
            for executor in self.made:
                executor.shutdown(wait=True)
        finally:
            self._patch.cleanUp()


def _outcome_of(call):
    """What ``wait()`` gives: its value, or the exception's class name."""
    try:
        return call.wait()
    except Exception as error:
        return type(error).__name__


# NOTE(matrix): a manager class made when this module is imported, as a
# service's manager is (nova.compute.manager.ComputeManager): the decorator
# of a task without run_immediately stores now() (time.monotonic, read in
# the real clock at import) as the task's last run. One class a period,
# since the spacing is fixed when the class is made.
def _imported_manager(spacing):
    class ImportedManager(periodic_task.PeriodicTasks):
        @periodic_task.periodic_task(spacing=spacing)
        def poll(self, context):
            self.run.mark('poll')

    return ImportedManager


_IMPORTED = {base.P_REAL: _imported_manager(base.P_REAL),
             base.P_VIRTUAL: _imported_manager(base.P_VIRTUAL)}


class TestPeriodicTask(base.MatrixTestCase):
    """``PeriodicTasks.run_periodic_tasks`` on a ThreadGroup dynamic timer,
    as ``oslo_service.service.Service`` subclasses (Nova's) drive it: the
    timer sleeps for the idle time each pass returns."""

    @staticmethod
    def _scenario(make_manager, span):
        def scenario(run):
            manager = make_manager(run)
            manager.run = run

            def periodic_tasks(raise_on_error=False):
                return manager.run_periodic_tasks(
                    {}, raise_on_error=raise_on_error)

            group = threadgroup.ThreadGroup()
            with _Executors():
                # NOTE(matrix): a cap of 60 s (oslo.service's default
                # interval), which never binds here.
                group.add_dynamic_timer_args(periodic_tasks,
                                             initial_delay=None,
                                             periodic_interval_max=60)
                run.until(span(run) if callable(span) else span)
                group.stop(graceful=True)
                group.wait()
            return sorted(manager._periodic_last_run)

        return scenario

    def test_run_immediately(self):
        def make_manager(run):
            class Manager(periodic_task.PeriodicTasks):
                @periodic_task.periodic_task(spacing=run.period,
                                             run_immediately=True)
                def poll(self, context):
                    self.run.mark('poll')

            return Manager(cfg.ConfigOpts())

        self.check(self._scenario(make_manager, 10.5),
                   base.ticks(range(11), 'poll'), ['poll'])

    def test_spacing_from_when_the_class_is_made(self):
        # NOTE(matrix): the class made in the scenario (at offset 0): its
        # task's last run is then, so it first runs one period later.
        def make_manager(run):
            class Manager(periodic_task.PeriodicTasks):
                @periodic_task.periodic_task(spacing=run.period)
                def poll(self, context):
                    self.run.mark('poll')

            return Manager(cfg.ConfigOpts())

        self.check(self._scenario(make_manager, 10.5),
                   base.ticks(range(1, 11), 'poll'), ['poll'])

    def test_spacing_from_when_the_module_was_imported(self):
        # NOTE(matrix): the class made at import (_IMPORTED). Its task's
        # last run, L, is a real time.monotonic() reading from the import.
        # The first pass at t0 runs it if t0 - L >= P, else it first runs
        # at L + P; after a run the timer sleeps P, so later runs follow
        # every P. In real time t0 - L is however long the runner took to
        # get from the import to this test. On the virtual clock,
        # time.monotonic() starts at a power of two seconds at least 2**20
        # (12 days) and above the host's uptime, so L lies in the virtual
        # past, P or more before t0 unless the host's uptime at import was
        # within P below that power of two: what a test sees is a task due
        # at once, run at virtual 0 and every P after, as if it had
        # run_immediately (and not at P, as in test_spacing_from_when_the_
        # class_is_made). The expected runs are computed from L and t0 in
        # both runs, and the span ends half a period after the 11th.
        def first(run):
            last = _IMPORTED[run.period].poll._periodic_last_run
            if run.t0 - last >= run.period:
                return 0.0
            return (last + run.period - run.t0) / run.period

        def expected(run):
            return base.ticks([first(run) + k for k in range(11)], 'poll')

        def make_manager(run):
            return _IMPORTED[run.period](cfg.ConfigOpts())

        # NOTE(matrix): the virtual offsets come from a real reading
        # (L, a float with a fractional part) when the task is not due at
        # once: exact to a nanosecond, not to the last bit.
        real, virtual = self.check(
            self._scenario(make_manager, lambda run: first(run) + 10.5),
            expected, ['poll'], virtual_tolerance=1e-6)
        last = _IMPORTED[base.P_VIRTUAL].poll._periodic_last_run
        self.assertGreater(virtual.t0, last)


class TestLoopingCalls(base.MatrixTestCase):

    def test_fixed_interval(self):
        def scenario(run):
            with _Executors():
                call = loopingcall.FixedIntervalLoopingCall(
                    lambda: run.mark('run'))
                call.start(interval=run.period)
                run.until(10.5)
                call.stop()
                return _outcome_of(call)

        self.check(scenario, base.ticks(range(11)), True)

    def test_fixed_interval_with_timeout(self):
        # NOTE(matrix): the timeout is checked against time.time() after
        # each run: the run at 6 P is the first past 5.5 P, and wait()
        # raises LoopingCallTimeOut.
        def scenario(run):
            with _Executors():
                call = loopingcall.FixedIntervalWithTimeoutLoopingCall(
                    lambda: run.mark('run'))
                call.start(interval=run.period, timeout=run.seconds(5.5))
                return _outcome_of(call)

        self.check(scenario, base.ticks(range(7)), 'LoopingCallTimeOut')

    def test_dynamic(self):
        # NOTE(matrix): the function asks for 1, 2, 1, 4, 2, 1, 2 P;
        # periodic_interval_max caps 4 P at 3 P.
        def scenario(run):
            idles = iter([1, 2, 1, 4, 2, 1, 2, 2])

            def poll():
                run.mark('run')
                return run.seconds(next(idles))

            with _Executors():
                call = loopingcall.DynamicLoopingCall(poll)
                call.start(periodic_interval_max=run.seconds(3))
                run.until(10.5)
                call.stop()
                return _outcome_of(call)

        self.check(scenario, base.ticks([0, 1, 3, 4, 7, 9, 10]), True)

    def test_backoff_recovers_then_times_out(self):
        # NOTE(matrix): the function fails twice, succeeds, then keeps
        # failing. The jitter is random (an unseedable SystemRandom): fixed
        # at its mean, 1, so that both runs take the same path. Failures
        # wait 2, 4 P (doubling from starting_interval = P), the success
        # waits P and resets; then 2, 4 P again, and the next wait, 8 P,
        # would take the errors' time to 14 P, past the 10.5 P timeout:
        # wait() raises LoopingCallTimeOut after the run at 13 P.
        class MeanJitter:
            @staticmethod
            def gauss(mu, sigma):
                return mu

        self.useFixture(fixtures.MonkeyPatch(
            'oslo_service.backend._common.loopingcall.'
            'BackOffLoopingCallBase._RNG', MeanJitter()))

        def scenario(run):
            results = iter([False, False, True, False, False, False])

            def attempt():
                run.mark('attempt')
                return next(results)

            with _Executors():
                call = loopingcall.BackOffLoopingCall(attempt)
                call.start(starting_interval=run.period,
                           timeout=run.seconds(10.5),
                           max_interval=run.seconds(100), jitter=1.0)
                return _outcome_of(call)

        self.check(scenario, base.ticks([0, 2, 6, 7, 9, 13], 'attempt'),
                   'LoopingCallTimeOut')


# NOTE(matrix): the backend these rows must run on.
assert loopingcall.FixedIntervalLoopingCall is \
    threading_lc.FixedIntervalLoopingCall
