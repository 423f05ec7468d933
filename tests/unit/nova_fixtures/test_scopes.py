"""io_wait / io_listen scopes: a wait that ends inside one lets it run."""

import socket
import threading
import time

import testtools

import nova_fixtures


class TestAWaitGrantedInsideAScope(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.left, self.right = socket.socketpair()
        self.addCleanup(self.left.close)
        self.addCleanup(self.right.close)
        # NOTE(tests): outside the test (started before the clock), it
        # answers the listener's recv() once time stalls on it.
        self.answer_when = []
        armed = threading.Event()

        def answer():
            armed.wait()
            if self.answer_when:
                # NOTE(tests): bounded, so that a failing run ends.
                self.answer_when[0].wait(30)
            self.left.send(b'x')

        outsider = threading.Thread(target=answer, name='outsider')
        outsider.start()
        self.addCleanup(outsider.join)
        self.addCleanup(armed.set)
        self.armed = armed
        self.clock = self.useFixture(nova_fixtures.ClockFixture(
            max_real_stall=0.05))

    def start_listener(self):
        """A thread that, inside io_listen, waits for a lock the test holds
        (as ThreadingMixIn waits for its request thread to start), then
        runs on into a real recv()."""
        lock = threading.Lock()
        lock.acquire()
        after_wait = threading.Event()
        got = []

        def listen():
            with nova_fixtures.io_listen():
                with lock:
                    after_wait.set()
                    got.append(self.right.recv(1))

        thread = threading.Thread(target=listen, name='listener')
        thread.start()
        self.clock.settle()
        lock.release()
        after_wait.wait()
        return thread, got

    def test_its_thread_counts_as_running_not_listening(self):
        thread, got = self.start_listener()
        self.assertEqual(
            'is running (in its io_listen scope, after a wait there ended)',
            self.clock.bubble.state_of(thread.ident))
        self.armed.set()
        thread.join()
        self.assertEqual([b'x'], got)

    def test_joining_it_is_no_deadlock(self):
        # NOTE(tests): counted as listening, the listener looked blocked
        # with the test thread in join(): DeadlockError at once.
        self.answer_when.append(self.clock.stalled)
        self.armed.set()
        thread, got = self.start_listener()
        thread.join()
        self.assertEqual([b'x'], got)
        self.assertEqual(0, self.clock.now())


class TestAClientBackInItsRecv(testtools.TestCase):
    """A wait that ends inside io_wait leaves the client waiting for I/O."""

    def test_time_moves_while_its_answer_waits_out_a_timer(self):
        left, right = socket.socketpair()
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        clock = self.useFixture(nova_fixtures.ClockFixture())
        lock = threading.Lock()
        lock.acquire()
        got = []

        def server():
            with nova_fixtures.io_answer():
                time.sleep(60)  # allow-sleep: virtual time (a timeout)
            left.send(b'x')

        def client():
            with nova_fixtures.io_wait():
                # NOTE(tests): a wait inside the scope (a client library's
                # lock, a finalizer), then back into a recv no park sees:
                # counted as running, it held time still for good (the
                # example cloud's hung-cell listing hung so under load).
                with lock:
                    pass
                got.append(right.recv(1))

        threads = [threading.Thread(target=server, name='server'),
                   threading.Thread(target=client, name='client')]
        for thread in threads:
            thread.start()
        clock.settle()
        lock.release()
        for thread in threads:
            thread.join()
        self.assertEqual([b'x'], got)
        self.assertEqual(60, clock.now())
