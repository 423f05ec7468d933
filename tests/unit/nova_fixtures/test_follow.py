"""Time that must move: busy polls, and readings that relate as real."""

import datetime
import queue
import threading
import time

from oslo_utils import timeutils
import testtools

import nova_fixtures


class TestBusyPolls(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def start(self, target):
        stop = threading.Event()
        thread = threading.Thread(target=target, args=(stop,),
                                  name='poller')
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(stop.set)
        return thread, stop

    def test_a_get_nowait_poller_lets_a_sleep_end(self):
        # NOTE(tests): as a Mistral service thread polls its queue: it
        # never blocks, so time could never jump to the sleep's end.
        events = queue.Queue()
        seen = []

        def poll(stop):
            while not stop.is_set():
                try:
                    seen.append(events.get_nowait())
                except queue.Empty:
                    pass

        self.start(poll)
        events.put('event')
        time.sleep(1)  # allow-sleep: virtual time
        self.assertEqual(1, self.clock.now())
        self.assertEqual(['event'], seen)
        # NOTE(tests): on a loaded host the poller may take over 5 s of
        # real time to burn its second of CPU: a stall report comes first.
        follows = [report for report in self.clock.reports
                   if report.startswith('virtual time follows the CPU of '
                                        'test threads that ran 1 s without '
                                        'blocking, from ')]
        self.assertEqual(1, len(follows), self.clock.reports)
        self.assertIn('"poller" is running', follows[0])

    def test_a_deadline_loop_on_readings_alone_ends(self):
        ended = threading.Event()

        def spin(stop):
            end = time.monotonic() + 0.5
            while time.monotonic() < end and not stop.is_set():
                pass
            ended.set()

        self.start(spin)
        # NOTE(tests): no timer at all: only the poller's CPU moves time.
        ended.wait()
        self.assertGreaterEqual(self.clock.now(), 0.5)


class TestReadings(testtools.TestCase):

    def test_a_stamp_without_its_fraction_is_older_than_a_later_reading(self):
        # NOTE(tests): mistral_lib.utils.utc_now_sec(), then a check.
        for _ in range(3):
            with nova_fixtures.ClockFixture():
                stamp = timeutils.utcnow().replace(microsecond=0)
                self.assertLess(stamp, timeutils.utcnow())
                self.assertLess(int(time.time()), time.time())
                self.assertLess(int(time.monotonic()), time.monotonic())
                time.sleep(10)  # allow-sleep: virtual time
                self.assertLess(
                    datetime.datetime.now().replace(microsecond=0),
                    datetime.datetime.now())

    def test_sleeps_stay_exact(self):
        with nova_fixtures.ClockFixture():
            t0, w0 = time.monotonic(), time.time()
            time.sleep(2.5)  # allow-sleep: virtual time
            self.assertEqual(2.5, time.monotonic() - t0)
            self.assertEqual(2.5, time.time() - w0)


class TestZeroTimeoutPolls(testtools.TestCase):

    def test_as_completed_times_out_at_its_exact_deadline(self):
        # NOTE(tests): at the deadline end - now() is exactly 0.0, and
        # as_completed then polls with wait(0.0): it spun at that instant.
        import concurrent.futures
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        clock = self.useFixture(nova_fixtures.ClockFixture())
        never = concurrent.futures.Future()
        self.assertRaises(concurrent.futures.TimeoutError, list,
                          concurrent.futures.as_completed([never], 55))
        self.assertEqual(55.000000001, clock.now())
        self.assertEqual([], clock.reports)

    def test_a_second_zero_timeout_poll_at_one_instant_lets_1_ns_pass(self):
        with nova_fixtures.ClockFixture() as clock:
            event = threading.Event()
            self.assertFalse(event.wait(0))
            self.assertEqual(0, clock.now())
            self.assertFalse(event.wait(0))
            self.assertEqual(1e-9, clock.now())
            self.assertFalse(event.wait(0))
            self.assertEqual(1e-9, clock.now())
            event.set()
            self.assertTrue(event.wait(0))
            self.assertEqual(1e-9, clock.now())
