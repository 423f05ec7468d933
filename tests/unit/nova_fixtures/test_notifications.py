"""NotificationFixture: capture and event-driven wait_for."""

import threading

import nova_fixtures


class TestNotificationFixture(nova_fixtures.TestCase):

    def setUp(self):
        super().setUp()
        self.notes = self.useFixture(nova_fixtures.NotificationFixture(
            self.bus))
        self.notifier = self.bus.notifier('compute.c1')

    def test_wait_for_wakes_on_notifications_from_another_thread(self):
        def emit():
            for i in range(3):
                self.notifier.info({}, 'instance.create.end', {'i': i})

        thread = threading.Thread(target=emit)
        thread.start()
        found = self.notes.wait_for('instance.create.end', count=3)
        thread.join()
        self.assertEqual([{'i': 0}, {'i': 1}, {'i': 2}],
                         sorted((n.payload for n in found),
                                key=lambda p: p['i']))
        self.assertEqual('compute.c1', found[0].publisher_id)

    def test_wait_for_timeout_names_what_arrived(self):
        self.notifier.error({}, 'instance.delete.error', {})
        self.bus.settle(timeout=10)
        error = self.assertRaises(nova_fixtures.NotificationTimeout,
                                  self.notes.wait_for, 'instance.create.end',
                                  timeout=0.01)
        self.assertEqual("waited 0.01 s for 1 'instance.create.end' "
                         "notification(s), got 0; seen: "
                         "instance.delete.error", str(error))

    def test_wait_for_refuses_a_bad_timeout_or_count_up_front(self):
        # NOTE(tests): -1 said "waited -1 s" after a poll; NaN polled
        # forever; inf overflowed the condition's wait.
        for bad in (-1, float('nan'), float('inf')):
            error = self.assertRaises(ValueError, self.notes.wait_for,
                                      'x.y', timeout=bad)
            self.assertEqual(f'wait_for timeout must be a finite number of '
                             f'seconds >= 0, got {bad!r}', str(error))
        error = self.assertRaises(TypeError, self.notes.wait_for, 'x.y',
                                  timeout='5')
        self.assertEqual("wait_for timeout must be a number of seconds, "
                         "got '5'", str(error))
        for bad in (0, -2, 1.5, True, '1'):
            error = self.assertRaises(ValueError, self.notes.wait_for,
                                      'x.y', count=bad)
            self.assertEqual(f'wait_for count must be a whole number >= 1, '
                             f'got {bad!r}', str(error))

    def test_capture_does_not_steal_from_a_service_listener(self):
        got = []

        class Agent:
            def info(self, ctxt, publisher_id, event_type, payload, meta):
                got.append(event_type)

        self.useFixture(nova_fixtures.NotificationListenerFixture(
            [Agent()], self.bus))
        self.notifier.info({}, 'x.y', {})
        self.bus.settle(timeout=10)
        self.assertEqual(['x.y'], got)
        self.assertEqual(['x.y'], [n.event_type for n in
                                   self.notes.of_type('x.y')])


class TestNotificationFixtureMisuse(nova_fixtures.TestCase):
    """Issue 10 item 13: reading captures of a fixture never set up."""

    def test_notifications_before_setup_are_refused(self):
        notes = nova_fixtures.NotificationFixture(self.bus)
        for read in (lambda: notes.notifications,
                     lambda: notes.of_type('x.y')):
            error = self.assertRaises(nova_fixtures.FixtureNotReady, read)
            self.assertEqual('NotificationFixture is not set up: use it '
                             'through useFixture() or call setUp() first',
                             str(error))

    def test_notifications_stay_readable_after_cleanup(self):
        with nova_fixtures.NotificationFixture(self.bus) as notes:
            self.bus.notifier('compute.c1').info({}, 'x.y', {'n': 1})
            self.bus.settle(timeout=10)
        self.assertEqual([{'n': 1}],
                         [n.payload for n in notes.of_type('x.y')])
