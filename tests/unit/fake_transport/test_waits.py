"""What the driver tells an RPC wait observer (fake_transport.waits)."""

import threading

from fake_transport import waits
from tests.unit.fake_transport import base


class Recording:
    """An observer that records each report and the reporting thread."""

    def __init__(self):
        self.events = []

    def calling(self, msg_id, label):
        self.events.append(('calling', label, threading.current_thread()))

    def call_ended(self, msg_id):
        self.events.append(('call_ended', None, threading.current_thread()))

    def queued(self, msg_id, label, server, key):
        self.events.append(('queued', f'{label} at {server}',
                            threading.current_thread()))

    def handling(self, msg_id, key, capacity):
        self.events.append(('handling', capacity,
                            threading.current_thread()))

    def handled(self, msg_id):
        self.events.append(('handled', None, threading.current_thread()))

    def timed_out(self, msg_id):
        return 'because of the test'


class TestObserver(base.BusTestCase):

    def observe(self):
        observer = Recording()
        self.addCleanup(waits.observe(observer))
        return observer

    def test_a_call_is_told_from_send_to_reply_in_the_right_threads(self):
        self.start_server('topic', 'host')
        observer = self.observe()
        answer = self.client('topic').call({}, 'echo', value='v')
        self.assertEqual('v', answer)
        me = threading.current_thread()
        # NOTE(tests): the caller is told of its call when it begins to
        # wait, after the send queued it; by then a worker may already
        # handle it (seen under load), so each thread's order is checked.
        mine = [(kind, detail) for kind, detail, thread in observer.events
                if thread == me]
        self.assertEqual([('queued', '#1 call topic.echo at host'),
                          ('calling', 'call topic.echo')], mine[:2])
        self.assertEqual('call_ended', mine[-1][0])
        self.assertEqual(3, len(mine))
        worker_events = [e for e in observer.events if e[2] != me]
        self.assertEqual(['handling', 'handled'],
                         [e[0] for e in worker_events])
        self.assertIsInstance(worker_events[0][1], int)
        self.assertEqual(('queued', '#1 call topic.echo at host'),
                         observer.events[0][:2])

    def test_a_cast_is_not_told(self):
        self.start_server('topic', 'host')
        observer = self.observe()
        self.client('topic').cast({}, 'echo', value='v')
        self.broker.settle()
        self.assertEqual([], observer.events)

    def test_a_timeout_carries_what_the_observer_knows(self):
        self.observe()
        error = self.assertRaises(
            Exception, self.client('nobody', timeout=0.01).call, {}, 'echo')
        self.assertEqual('MessagingTimeout', type(error).__name__)
        self.assertTrue(str(error).endswith(': because of the test'),
                        str(error))

    def test_one_observer_at_a_time_and_stop_forgets_it(self):
        stop = waits.observe(Recording())
        self.assertRaises(RuntimeError, waits.observe, Recording())
        stop()
        self.assertIsNone(waits.current())
        waits.observe(Recording())()
        self.assertIsNone(waits.current())
