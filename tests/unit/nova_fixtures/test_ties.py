"""Waits due at the same virtual instant end one at a time, in order."""

import threading
import time

import testtools

import nova_fixtures
from nova_fixtures import clock as clock_mod


def parked(thread):
    """Whether ``thread`` still waits, its wait not ended (core's view)."""
    bubble = clock_mod.active_bubble()
    with bubble.mutex:
        return bubble.at_rest(thread.ident)


class TestOrderedTies(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def start(self, target, name):
        thread = threading.Thread(target=target, name=name)
        thread.start()
        self.addCleanup(thread.join)
        return thread

    def test_a_poll_due_with_the_tests_sleep_waits_for_it(self):
        # NOTE(tests): the new user's flake: a poll every 600 s and the
        # test's own sleep(3600) fall due together; the test's sleep began
        # first, so it ends first, and the poll only once the test thread
        # blocks again.
        polls, stop = [], threading.Event()

        def poller():
            while not stop.wait(600):
                polls.append(time.monotonic())

        thread = self.start(poller, 'poller')
        self.addCleanup(stop.set)
        # NOTE(tests): on the clock: an hour of virtual time, no real wait.
        time.sleep(3600)  # allow-sleep: virtual time
        self.assertEqual((5, True), (len(polls), parked(thread)))

    def test_waits_due_together_end_in_the_order_they_began(self):
        woke, events = [], {}

        def waiter(name):
            def wait():
                events[name].wait(30)
                others = [n for n, t in threads.items() if n != name]
                woke.append((name, [parked(threads[n]) for n in others]))
            return wait

        threads = {}
        for name in ('a', 'b', 'c'):
            events[name] = threading.Event()
            threads[name] = self.start(waiter(name), name)
            self.clock.settle()
        for thread in threads.values():
            thread.join()
        self.assertEqual(
            [('a', [True, True]), ('b', [False, True]),
             ('c', [False, False])], woke)
        self.assertEqual(30, self.clock.now())

    def test_advance_ends_the_waits_it_passes_one_at_a_time(self):
        woke = []

        def sleeper(seconds):
            def sleep():
                time.sleep(seconds)
                woke.append((seconds, time.monotonic() - start))
            return sleep

        start = time.monotonic()
        # NOTE(tests): the 7 s sleep begins first, but the 3 s one is due
        # first.
        self.start(sleeper(7), 'seven')
        self.clock.settle()
        self.start(sleeper(3), 'three')
        self.clock.settle()
        self.clock.advance(10)
        self.clock.settle()
        self.assertEqual([(3, 10), (7, 10)], woke)


class TestTogether(testtools.TestCase):

    def test_together_ends_every_due_wait_at_once(self):
        self.useFixture(nova_fixtures.ClockFixture(ties='together'))
        seen, event = [], threading.Event()

        def waiter():
            event.wait(30)
            seen.append(parked(other))

        first = threading.Thread(target=waiter, name='first')
        other = threading.Thread(target=event.wait, args=(30,),
                                 name='other')
        first.start()
        other.start()
        first.join()
        other.join()
        self.assertEqual([False], seen)

    def test_a_bad_ties_value_is_refused(self):
        error = self.assertRaises(ValueError, nova_fixtures.ClockFixture,
                                  ties='random')
        self.assertEqual("ties must be one of 'ordered', 'together', got "
                         "'random'", str(error))
