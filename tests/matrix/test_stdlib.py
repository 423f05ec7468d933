"""Rows from the standard library: threading.Timer, sched,
concurrent.futures, queue.Queue.get(timeout=), Condition.wait_for."""

import concurrent.futures
import queue
import sched
import threading
import time

from tests.matrix import base


def _sleeper(run, periods):
    time.sleep(run.seconds(periods))  # allow-sleep: the task's work
    run.mark(f'task{periods}')
    return periods


class TestThreadingTimer(base.MatrixTestCase):

    def test_rearming_timer_and_cancelled_watchdog(self):
        # NOTE(matrix): a heartbeat that re-arms a Timer(P) from its
        # callback, a watchdog Timer(4.5 P) that the third beat cancels,
        # and a deadline Timer(6.5 P) that nobody cancels; the span ends at
        # 10.5 P, between the 10th beat and the 11th.
        def scenario(run):
            lock = threading.Lock()
            state = {'timer': None, 'stopped': False, 'beats': 0}
            watchdog = threading.Timer(run.seconds(4.5),
                                       lambda: run.mark('watchdog'))
            deadline = threading.Timer(run.seconds(6.5),
                                       lambda: run.mark('deadline'))

            def beat():
                with lock:
                    if state['stopped']:
                        return
                    state['beats'] += 1
                    run.mark('beat')
                    if state['beats'] == 3:
                        watchdog.cancel()
                    state['timer'] = threading.Timer(run.seconds(1), beat)
                    state['timer'].start()

            with lock:
                state['timer'] = threading.Timer(run.seconds(1), beat)
                state['timer'].start()
            watchdog.start()
            deadline.start()
            run.until(10.5)
            with lock:
                state['stopped'] = True
                last = state['timer']
            last.cancel()
            for timer in (last, watchdog, deadline):
                timer.join()
            return state['beats']

        expected = (base.ticks([1, 2, 3, 4, 5, 6], 'beat') +
                    [(6.5, 'deadline')] +
                    base.ticks([7, 8, 9, 10], 'beat'))
        self.check(scenario, expected, 10)


class TestSched(base.MatrixTestCase):

    @staticmethod
    def _scenario(make):
        # NOTE(matrix): a job that re-enters itself every P (from its own
        # run, as a periodic job on sched does) and a stop event at 10.5 P
        # that cancels the pending one; run() returns once the queue is
        # empty.
        def scenario(run):
            scheduler = make()
            pending = {}

            def job():
                run.mark('job')
                pending['job'] = scheduler.enter(run.seconds(1), 1, job)

            def stop():
                run.mark('stop')
                scheduler.cancel(pending['job'])

            pending['job'] = scheduler.enter(run.seconds(1), 1, job)
            scheduler.enter(run.seconds(10.5), 0, stop)
            scheduler.run()
            return scheduler.empty()

        return scenario

    def test_scheduler_with_monotonic_and_sleep(self):
        # NOTE(matrix): as the sched documentation writes it: the time and
        # delay functions passed, looked up when the scheduler is made.
        scenario = self._scenario(
            lambda: sched.scheduler(time.monotonic, time.sleep))
        expected = base.ticks(range(1, 11), 'job') + [(10.5, 'stop')]
        self.check(scenario, expected, True)

    def test_scheduler_with_its_default_functions(self):
        # NOTE(matrix): sched.scheduler() with its defaults, as a user who
        # reads its signature writes it.
        scenario = self._scenario(sched.scheduler)
        expected = base.ticks(range(1, 11), 'job') + [(10.5, 'stop')]
        self.check(scenario, expected, True)


class TestConcurrentFutures(base.MatrixTestCase):
    """Tasks of 1, 2 and 3 P and one that hangs until the scenario ends."""

    @staticmethod
    def _scenario(gather):
        def scenario(run):
            gate = base.Gate()
            executor = concurrent.futures.ThreadPoolExecutor(4)
            try:
                futures = [executor.submit(_sleeper, run, n)
                           for n in (1, 2, 3)]
                futures.append(executor.submit(gate.hang))
                return gather(run, futures)
            finally:
                gate.open()
                executor.shutdown(wait=True)

        return scenario

    def test_wait_with_timeout(self):
        # NOTE(matrix): wait(FIRST_COMPLETED, timeout=10.5 P) returns at
        # 1 P; wait(timeout=9.5 P) then times out at 10.5 P, one not done.
        def gather(run, futures):
            done, _ = concurrent.futures.wait(
                futures, timeout=run.seconds(10.5),
                return_when=concurrent.futures.FIRST_COMPLETED)
            run.mark(f'first: {len(done)} done')
            done, not_done = concurrent.futures.wait(
                futures, timeout=run.seconds(9.5))
            run.mark('all: timed out')
            return len(done), len(not_done)

        expected = [(1, 'task1'), (1, 'first: 1 done'), (2, 'task2'),
                    (3, 'task3'), (10.5, 'all: timed out')]
        self.check(self._scenario(gather), expected, (3, 1))

    def test_as_completed_with_timeout(self):
        # NOTE(matrix): as_completed(timeout=5.5 P) yields three futures,
        # at 1, 2 and 3 P, then raises TimeoutError at 5.5 P.
        def gather(run, futures):
            yielded = []
            try:
                for future in concurrent.futures.as_completed(
                        futures, timeout=run.seconds(5.5)):
                    yielded.append(future.result())
                    run.mark(f'yielded{future.result()}')
            except concurrent.futures.TimeoutError:
                run.mark('timed out')
            return yielded

        expected = [(1, 'task1'), (1, 'yielded1'), (2, 'task2'),
                    (2, 'yielded2'), (3, 'task3'), (3, 'yielded3'),
                    (5.5, 'timed out')]
        self.check(self._scenario(gather), expected, [1, 2, 3])


class TestQueueGetTimeout(base.MatrixTestCase):

    def test_consumer_times_out_after_the_producer_stops(self):
        # NOTE(matrix): a producer puts an item every P, three times; the
        # consumer's get(timeout=2.5 P) gets them at 1, 2 and 3 P, then
        # raises Empty at 5.5 P.
        def scenario(run):
            items = queue.Queue()

            def produce():
                for item in 'abc':
                    time.sleep(run.seconds(1))  # allow-sleep: producer
                    items.put(item)

            producer = threading.Thread(target=produce, name='producer')
            producer.start()
            got = []
            try:
                while True:
                    try:
                        got.append(items.get(timeout=run.seconds(2.5)))
                    except queue.Empty:
                        run.mark('empty')
                        break
                    run.mark('got')
            finally:
                producer.join()
            return ''.join(got)

        expected = base.ticks([1, 2, 3], 'got') + [(5.5, 'empty')]
        self.check(scenario, expected, 'abc')


class TestConditionWaitFor(base.MatrixTestCase):

    def test_wait_for_met_then_timed_out(self):
        # NOTE(matrix): a counter raised every P, five times, with
        # notify_all; wait_for(count >= 3, timeout=10.5 P) is met at 3 P,
        # then wait_for(count >= 10, timeout=4.5 P) times out at 7.5 P.
        def scenario(run):
            condition = threading.Condition()
            state = {'count': 0}

            def count():
                for _ in range(5):
                    time.sleep(run.seconds(1))  # allow-sleep: the counter
                    with condition:
                        state['count'] += 1
                        condition.notify_all()

            counter = threading.Thread(target=count, name='counter')
            counter.start()
            results = []
            try:
                with condition:
                    results.append(condition.wait_for(
                        lambda: state['count'] >= 3, run.seconds(10.5)))
                    run.mark('met')
                    results.append(condition.wait_for(
                        lambda: state['count'] >= 10, run.seconds(4.5)))
                    run.mark('timed out')
            finally:
                counter.join()
            return results, state['count']

        expected = [(3, 'met'), (7.5, 'timed out')]
        self.check(scenario, expected, ([True, False], 5))
