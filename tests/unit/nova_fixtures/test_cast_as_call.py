"""CastAsCallFixture: only the chosen topics become synchronous."""

import nova_fixtures


class Worker:
    def __init__(self):
        self.done = []

    def work(self, ctxt, n):
        if n < 0:
            raise ValueError('negative')
        self.done.append(n)


class TestCastAsCallFixture(nova_fixtures.TestCase):

    def test_casts_to_chosen_topic_are_done_when_cast_returns(self):
        worker = Worker()
        self.start_service(worker, 'chosen', 'h')
        self.useFixture(nova_fixtures.CastAsCallFixture(topics=['chosen']))
        self.bus.rpc_client('chosen').cast({}, 'work', n=1)
        self.assertEqual([1], worker.done)
        self.assertRaises(ValueError, self.bus.rpc_client('chosen').cast,
                          {}, 'work', n=-1)
        self.assertEqual(['call', 'reply', 'call', 'reply'],
                         [e.kind for e in self.bus.broker.journal.entries()])

    def test_other_topics_still_cast(self):
        worker = Worker()
        self.start_service(worker, 'other', 'h')
        self.useFixture(nova_fixtures.CastAsCallFixture(topics=['chosen']))
        self.bus.rpc_client('other').cast({}, 'work', n=-1)
        self.bus.settle(timeout=10)
        self.assertEqual(['cast'],
                         [e.kind for e in self.bus.broker.journal.entries()])

    def test_other_transports_still_cast(self):
        other = self.useFixture(nova_fixtures.TransportFixture(name='o'))
        self.start_service(Worker(), 'chosen', 'h', bus=other)
        self.useFixture(nova_fixtures.CastAsCallFixture(
            topics=['chosen'], transports=[self.bus]))
        other.rpc_client('chosen').cast({}, 'work', n=-1)
        other.settle(timeout=10)
        self.assertEqual(['cast'],
                         [e.kind for e in other.broker.journal.entries()])

    def test_needs_a_topic(self):
        error = self.assertRaises(ValueError,
                                  nova_fixtures.CastAsCallFixture, [])
        self.assertEqual('CastAsCallFixture needs at least one topic',
                         str(error))
