"""Listener life cycle: start once, stop, cleanup, no threads left."""

import threading

import fixtures
import oslo_messaging

from tests.unit.fake_transport import base


class TestListenerLifeCycle(base.BusTestCase):

    def listen(self, server='s'):
        driver = self.transport._driver
        return driver.listen(oslo_messaging.Target(topic='t', server=server),
                             1, None)

    def test_second_start_is_refused(self):
        listener = self.listen()
        self.addCleanup(listener.cleanup)
        listener.start(lambda incoming: None)
        error = self.assertRaises(RuntimeError, listener.start,
                                  lambda incoming: None)
        self.assertEqual('This memory:// listener was already started; a '
                         'listener starts once', str(error))

    def test_start_after_cleanup_is_refused(self):
        listener = self.listen()
        listener.cleanup()
        error = self.assertRaises(RuntimeError, listener.start,
                                  lambda incoming: None)
        self.assertEqual('This memory:// listener was cleaned up; ask the '
                         'transport for a new one', str(error))

    def test_listen_after_transport_cleanup_is_refused(self):
        self.transport.cleanup()
        error = self.assertRaises(RuntimeError, self.listen)
        self.assertEqual(
            f'This memory://{self.broker.name}/ transport was cleaned up; '
            f'create a new transport', str(error))

    def test_messages_sent_between_listen_and_start_wait_for_start(self):
        listener = self.listen()
        self.addCleanup(listener.cleanup)
        self.client(topic='t').cast({}, 'echo', value=1)
        got = []
        listener.start(lambda incoming: [got.append(m.message) or
                                         m.reply() for m in incoming])
        self.broker.settle(timeout=10)
        self.assertEqual([{'method': 'echo', 'args': {'value': 1}}],
                         [{k: v for k, v in m.items()
                           if k in ('method', 'args')} for m in got])

    def test_stopped_listener_gets_nothing_and_messages_wait(self):
        listener = self.listen()
        self.addCleanup(listener.cleanup)
        got = []
        listener.start(got.extend)
        listener.stop()
        self.client(topic='t').cast({}, 'echo', value=1)
        self.assertEqual([], got)
        self.assertEqual(1, len(self.broker.unconsumed()))
        self.assertEqual([], self.broker.listeners())

    def test_transport_cleanup_stops_its_listeners_and_fanout_queues(self):
        listener = self.listen()
        listener.start(lambda incoming: None)
        self.assertEqual([listener], self.broker.listeners())
        self.transport.cleanup()
        self.assertEqual([], self.broker.listeners())
        self.assertEqual(['t', 't.s'], sorted(self.broker.queues()))

    def test_servers_and_batch_listeners_leave_no_thread(self):
        before = set(threading.enumerate())
        _, server = self.start_server()
        self.client().call({}, 'echo')
        notifications = self.make_notification_transport()
        self.start_notification_listener(['n'], batch_size=2,
                                         batch_timeout=5,
                                         transport=notifications)
        self.notifier(topics=['n']).info({}, 'x', {})
        server.stop()
        server.wait()
        self.transport.cleanup()
        notifications.cleanup()
        leftover = [t for t in threading.enumerate()
                    if t not in before and t.name.startswith('fake-')]
        self.assertEqual([], leftover)
        self.assertEqual([], self.broker.listeners())


class TestStopRacingDelivery(base.BusTestCase):

    def listen(self, server):
        return self.transport._driver.listen(
            oslo_messaging.Target(topic='t', server=server), 1, None)

    def test_cast_racing_stop_waits_for_the_next_listener(self):
        listener = self.listen('s1')
        self.addCleanup(listener.cleanup)
        refused = []
        listener.start(refused.extend)
        detaching = threading.Event()
        proceed = threading.Event()
        detach = self.broker.detach

        def slow_detach(queue, consumer):
            detaching.set()
            proceed.wait(10)
            detach(queue, consumer)

        self.useFixture(fixtures.MockPatchObject(
            self.broker, 'detach', new=slow_detach))
        stopper = threading.Thread(target=listener.stop)
        stopper.start()
        self.addCleanup(stopper.join)
        self.addCleanup(proceed.set)
        self.assertTrue(detaching.wait(10))
        # NOTE(tests): the listener is stopping but still attached: it
        # refuses the message, which must wait in its queue.
        self.client(topic='t').cast({}, 'echo', value=1)
        proceed.set()
        stopper.join()
        self.assertEqual([], refused)
        self.assertEqual([('cast', 't', 'queued')],
                         [(e.kind, e.queue, e.outcome)
                          for e in self.broker.unconsumed()])
        got = []
        second = self.listen('s2')
        self.addCleanup(second.cleanup)
        second.start(lambda incoming: [got.append(m.message) or m.reply()
                                       for m in incoming])
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})],
                         [(m['method'], m['args']) for m in got])
        self.assertEqual(['handled'],
                         [e.outcome for e in self.broker.journal.entries()])
