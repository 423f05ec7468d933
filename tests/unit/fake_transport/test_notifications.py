"""Notification semantics of memory://: pools, requeue, buffering."""

import threading

from tests.unit.fake_transport import base


class TestPools(base.BusTestCase):

    def test_each_pool_gets_a_copy_and_listeners_in_a_pool_compete(self):
        pools = {name: [self.start_notification_listener(
            ['notifications'], pool=name) for _ in range(2)]
            for name in ('A', 'B')}
        notifier = self.notifier()
        for i in range(40):
            notifier.info({}, 'thing.happened', {'i': i})
        self.broker.settle(timeout=10)
        self.assertEqual(
            {'A': [20, 20], 'B': [20, 20]},
            {name: [len(listener.events) for listener in listeners]
             for name, listeners in pools.items()})

    def test_listeners_without_pool_compete_on_the_default_queue(self):
        one = self.start_notification_listener(['notifications'])
        two = self.start_notification_listener(['notifications'])
        notifier = self.notifier()
        for i in range(40):
            notifier.info({}, 'thing.happened', {'i': i})
        self.broker.settle(timeout=10)
        self.assertEqual((20, 20), (len(one.events), len(two.events)))

    def test_default_queue_buffers_but_a_new_pool_sees_only_later(self):
        notifier = self.notifier()
        for i in range(5):
            notifier.info({}, 'early', {'i': i})
        pooled = self.start_notification_listener(['notifications'],
                                                  pool='late')
        plain = self.start_notification_listener(['notifications'])
        self.broker.settle(timeout=10)
        self.assertEqual((0, 5), (len(pooled.events), len(plain.events)))
        # NOTE(tests): the listener's workers handle them concurrently, so
        # the order they are recorded in is not the order they were sent.
        self.assertEqual(
            [('info', 'early', {'i': i}) for i in range(5)],
            sorted(plain.events, key=lambda event: event[2]['i']))

    def test_requeue_in_one_pool_does_not_redeliver_to_another(self):
        requeuer = self.start_notification_listener(
            ['notifications'], pool='A', allow_requeue=True,
            endpoint=base.NotificationRecorder(requeue_first=1))
        plain = self.start_notification_listener(['notifications'],
                                                 pool='B')
        self.notifier().info({}, 'once', {})
        self.broker.settle(timeout=10)
        self.assertEqual((2, 1), (len(requeuer.events), len(plain.events)))
        self.assertEqual(
            ['requeued', 'handled'],
            [e.outcome for e in self.broker.journal.entries(queue='A')])

    def test_one_pool_name_on_two_topics_is_one_queue(self):
        on_a = self.start_notification_listener(['a'], pool='shared')
        on_b = self.start_notification_listener(['b'], pool='shared')
        notifier = self.notifier(topics=['a'])
        for i in range(10):
            notifier.info({}, 'event', {'i': i})
        self.broker.settle(timeout=10)
        self.assertEqual((5, 5), (len(on_a.events), len(on_b.events)))

    def test_priorities_route_to_their_own_methods(self):
        listener = self.start_notification_listener(['notifications'])
        notifier = self.notifier()
        notifier.info({}, 'fine', {'n': 1})
        notifier.error({}, 'broken', {'n': 2})
        self.broker.settle(timeout=10)
        self.assertEqual(
            sorted([('info', 'fine', {'n': 1}), ('error', 'broken',
                                                 {'n': 2})]),
            sorted(listener.events))

    def test_version_one_notifications_arrive_too(self):
        listener = self.start_notification_listener(['notifications'])
        self.notifier(driver='messaging').info({}, 'old', {'v': 1})
        self.broker.settle(timeout=10)
        self.assertEqual([('info', 'old', {'v': 1})], listener.events)


class BatchRecorder:
    def __init__(self, expected):
        self.batches = []
        self.expected = expected
        self.done = threading.Event()

    def info(self, messages):
        self.batches.append([m['payload']['i'] for m in messages])
        if sum(len(b) for b in self.batches) >= self.expected:
            self.done.set()


class TestBatches(base.BusTestCase):

    def test_batch_listener_hands_over_full_batches(self):
        recorder = BatchRecorder(expected=6)
        self.start_notification_listener(
            ['notifications'], endpoint=recorder, batch_size=3,
            batch_timeout=30)
        notifier = self.notifier()
        for i in range(6):
            notifier.info({}, 'batched', {'i': i})
        self.assertTrue(recorder.done.wait(10))
        self.broker.settle(timeout=10)
        # NOTE(tests): each batch goes to the listener's pool as it fills;
        # two workers may hand them to the endpoint in either order.
        self.assertEqual([[0, 1, 2], [3, 4, 5]], sorted(recorder.batches))
