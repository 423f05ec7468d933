"""The driver: message ids, and what a caller sees of its replies."""

import queue
import sys
import threading
import types

import fixtures
import oslo_messaging

import nova_fixtures
from tests.unit.fake_transport import base


class TestMessageIds(base.BusTestCase):

    def test_threads_sending_at_once_get_distinct_ids(self):
        # NOTE(tests): a server makes the threads switch often enough that
        # the shared generator of old failed every run (100s of sends).
        endpoint, _ = self.start_server()
        interval = sys.getswitchinterval()
        self.addCleanup(sys.setswitchinterval, interval)
        sys.setswitchinterval(1e-5)
        client = self.client()
        barrier = threading.Barrier(16)
        errors = []

        def send():
            barrier.wait()
            try:
                for i in range(300):
                    client.cast({}, 'echo', value=i)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
        self.broker.settle(timeout=30)
        self.assertEqual([], errors)
        self.assertEqual(16 * 300, len(endpoint.calls))
        ids = [e.msg_id for e in self.broker.journal.entries()]
        self.assertEqual(16 * 300, len(ids))
        self.assertEqual(16 * 300, len(set(ids)))


class _GatedQueue:
    """A reply queue whose first expired wait holds until a reply lands.

    It puts the reply exactly between the caller's wait running out and
    the caller deciding what to do about it.
    """

    def __init__(self, expired, replied, entered):
        self._queue = queue.SimpleQueue()
        self._expired = expired
        self._replied = replied
        self._entered = entered

    def put(self, item, block=True, timeout=None):
        self._queue.put(item)
        self._replied.set()

    def get(self, block=True, timeout=None):
        if not self._expired.is_set():
            # NOTE(tests): the call's 0.05 s are also its message's time to
            # live: on a loaded machine the message could expire before
            # the server took it. The wait runs out once the server holds
            # the call, in its endpoint, whatever the load.
            self._entered.wait(10)
        try:
            return self._queue.get(block, timeout)
        except queue.Empty:
            if not self._expired.is_set():
                self._expired.set()
                self._replied.wait(10)
            raise

    def empty(self):
        return self._queue.empty()


class TestBadTimeouts(base.BusTestCase):

    def test_call_with_a_bad_timeout_is_refused_before_sending(self):
        self.start_server()
        for timeout in (float('nan'), -1, float('inf')):
            error = self.assertRaises(
                ValueError, self.client(timeout=timeout).call, {}, 'echo')
            self.assertEqual(
                f'call timeout must be a finite number of seconds >= 0 or '
                f'None, got {timeout!r}', str(error))
        self.assertEqual(0, len(self.broker.journal))


class TestReplyOutcomes(base.BusTestCase):

    def reply_outcomes(self):
        return [e.outcome for e in self.broker.journal.entries(kind='reply')]

    def test_reply_landing_as_the_wait_expires_is_what_the_caller_sees(self):
        expired = threading.Event()
        replied = threading.Event()
        entered = threading.Event()
        self.useFixture(fixtures.MonkeyPatch(
            'fake_transport.driver.queue', types.SimpleNamespace(
                SimpleQueue=lambda: _GatedQueue(expired, replied, entered),
                Empty=queue.Empty)))

        class Endpoint(base.Recorder):
            def wait_for(self, ctxt, event_name):
                entered.set()
                return super().wait_for(ctxt, event_name)

        endpoint = Endpoint()
        endpoint.expired = expired
        self.start_server(endpoint=endpoint)
        try:
            seen = self.client(timeout=0.05).call(
                {}, 'wait_for', event_name='expired')
        except oslo_messaging.MessagingTimeout:
            seen = 'timed out'
        self.broker.settle(timeout=10)
        self.assertEqual(('endpoint', ['delivered']),
                         (seen, self.reply_outcomes()))

    def test_reply_after_the_caller_gave_up_is_journalled_as_such(self):
        # NOTE(tests): on the clock, the call's 0.05 s pass only once the
        # server is blocked in the endpoint, however loaded the machine.
        self.useFixture(nova_fixtures.ClockFixture())
        endpoint = base.Recorder()
        endpoint.release = threading.Event()
        self.addCleanup(endpoint.release.set)
        self.start_server(endpoint=endpoint)
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          self.client(timeout=0.05).call,
                          {}, 'wait_for', event_name='release')
        endpoint.release.set()
        self.broker.settle(timeout=10)
        self.assertEqual(['caller-timed-out'], self.reply_outcomes())
        reply = self.broker.journal.entries(kind='reply')[0]
        self.assertEqual(
            f'#{reply.seq} reply wait_for to /topic from host: '
            f'caller-timed-out', str(reply))

    def test_second_reply_to_an_answered_call_is_journalled_caller_gone(self):
        first, _ = self.start_server(server='a')
        second, _ = self.start_server(server='b')
        self.broker.duplicate(kind='call', times=1)
        self.assertIn(self.client().call({}, 'whoami'), ('a', 'b'))
        self.broker.settle(timeout=10)
        self.assertEqual((1, 1), (len(first.calls), len(second.calls)))
        self.assertEqual(['caller-gone', 'delivered'],
                         sorted(self.reply_outcomes()))
