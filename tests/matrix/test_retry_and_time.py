"""Rows from tenacity (wait_fixed, stop_after_delay) and oslo.utils'
timeutils (utcnow, is_older_than, StopWatch)."""

import threading
import time

from oslo_utils import timeutils
import tenacity

from tests.matrix import base


class TestTenacity(base.MatrixTestCase):

    def test_wait_fixed_stop_after_delay(self):
        # NOTE(matrix): a call that always fails, retried every P until
        # stop_after_delay(10.5 P): attempts at 0..11 P (after the one at
        # 11 P, 11 P >= 10.5 P), then RetryError; then a call that fails
        # three times and succeeds, from 11 P: attempts at 11..14 P.
        def scenario(run):
            retrying = tenacity.retry(
                wait=tenacity.wait_fixed(run.seconds(1)),
                stop=tenacity.stop_after_delay(run.seconds(10.5)),
                retry=tenacity.retry_if_exception_type(IOError))
            outcome = []

            @retrying
            def always_fails():
                run.mark('down')
                raise IOError('down')

            failures = iter(range(3))

            @retrying
            def recovers():
                run.mark('flaky')
                if next(failures, None) is not None:
                    raise IOError('not yet')
                return 'up'

            try:
                always_fails()
            except tenacity.RetryError as error:
                outcome.append(type(error.last_attempt.exception()).__name__)
            outcome.append(recovers())
            return outcome

        expected = (base.ticks(range(12), 'down') +
                    base.ticks(range(11, 15), 'flaky'))
        self.check(scenario, expected, ['OSError', 'up'])


class TestTimeutils(base.MatrixTestCase):

    def test_heartbeat_up_check_with_utcnow_and_a_stopwatch(self):
        # NOTE(matrix): Nova's servicegroup check, with its clock: a
        # service heartbeats (utcnow()) every P, four times (0..3 P), then
        # dies; a checker polls every P for as long as a StopWatch of
        # 10.5 P runs, and finds the service up while its last heartbeat
        # is not older than 2.5 P (is_older_than): up at 0..5 P, down at
        # 6..10 P. The watch has expired at the check due at 11 P.
        def scenario(run):
            beats = {'last': timeutils.utcnow()}
            dead = threading.Event()

            def heartbeat():
                for _ in range(3):
                    if dead.wait(run.seconds(1)):
                        return
                    beats['last'] = timeutils.utcnow()

            heart = threading.Thread(target=heartbeat, name='heartbeat')
            heart.start()
            watch = timeutils.StopWatch(duration=run.seconds(10.5))
            watch.start()
            try:
                while not watch.expired():
                    older = timeutils.is_older_than(beats['last'],
                                                    run.seconds(2.5))
                    run.mark('down' if older else 'up')
                    time.sleep(run.seconds(1))  # allow-sleep: poll period
            finally:
                dead.set()
                heart.join()
            return round(watch.elapsed() / run.period)

        expected = (base.ticks(range(6), 'up') +
                    base.ticks(range(6, 11), 'down'))
        self.check(scenario, expected, 11)
