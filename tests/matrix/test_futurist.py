"""Rows from futurist: periodics.PeriodicWorker and the waiters."""

import threading
import time

import futurist
from futurist import periodics
from futurist import waiters

from tests.matrix import base


class TestPeriodicWorker(base.MatrixTestCase):
    """A callback every P from 0, on a worker run by a thread, as Ironic
    runs one (``executor.submit(worker.start)``); stopped at 10.5 P."""

    @staticmethod
    def _scenario(explicit_now_func):
        def scenario(run):
            @periodics.periodic(spacing=run.period, run_immediately=True)
            def poll():
                run.mark('poll')

            # NOTE(matrix): time.monotonic is looked up here, when the
            # worker is made (after the clock, in the virtual run), as a
            # test that makes its service in the test body does.
            if explicit_now_func:
                worker = periodics.PeriodicWorker([(poll, None, None)],
                                                  now_func=time.monotonic)
            else:
                worker = periodics.PeriodicWorker([(poll, None, None)])
            thread = threading.Thread(target=worker.start,
                                      name='periodic-worker')
            thread.start()
            try:
                run.until(10.5)
            finally:
                worker.stop()
                stopped = worker.wait()
                thread.join()
            return stopped

        return scenario

    def test_default_now_func(self):
        self.check(self._scenario(False), base.ticks(range(11), 'poll'), True)

    def test_now_func_time_monotonic(self):
        self.check(self._scenario(True),
                   base.ticks(range(11), 'poll'), True)


def _task(run, periods):
    time.sleep(run.seconds(periods))  # allow-sleep: the task's work
    run.mark(f'task{periods}')
    return periods


class TestWaiters(base.MatrixTestCase):
    """Tasks of 1, 2 and 3 P and one that hangs, on a futurist pool, as
    Nova's scatter-gather waits for cells."""

    def test_wait_for_any_then_wait_for_all_with_timeout(self):
        # NOTE(matrix): wait_for_any(timeout=10.5 P) returns at 1 P with
        # one done; wait_for_all(timeout=9.5 P) times out at 10.5 P with
        # the hung one not done.
        def scenario(run):
            gate = base.Gate()
            executor = futurist.ThreadPoolExecutor(4)
            try:
                futures = [executor.submit(_task, run, n) for n in (1, 2, 3)]
                futures.append(executor.submit(gate.hang))
                done, _ = waiters.wait_for_any(futures, run.seconds(10.5))
                run.mark(f'any: {len(done)} done')
                done, not_done = waiters.wait_for_all(futures,
                                                      run.seconds(9.5))
                run.mark('all: timed out')
                return len(done), len(not_done)
            finally:
                gate.open()
                executor.shutdown(wait=True)

        expected = [(1, 'task1'), (1, 'any: 1 done'), (2, 'task2'),
                    (3, 'task3'), (10.5, 'all: timed out')]
        self.check(scenario, expected, (3, 1))
