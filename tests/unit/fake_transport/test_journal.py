"""The journal: entries kept up to a limit, exact counts, the off switch."""

import time
import uuid

import fixtures
import testtools

import fake_transport
from fake_transport import journal
from tests.unit.fake_transport import base


def record(into, count, kind='cast'):
    return [into.record(kind=kind, exchange='x', topic='t', server=None,
                        method='m', sender='test', msg_id=f'id{i}')
            for i in range(count)]


class TestJournalLimit(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(journal.ENV_VAR))

    def test_by_default_the_last_10000_entries_are_kept(self):
        kept = journal.Journal()
        self.assertEqual(10000, kept.limit)
        record(kept, 10002)
        entries = kept.entries()
        self.assertEqual((10000, 3, 10002),
                         (len(entries), entries[0].seq, entries[-1].seq))
        self.assertEqual((10000, 10002), (len(kept), kept.recorded))
        self.assertEqual({'queued': 10002}, kept.counts())

    def test_limit_keeps_the_last_entries_and_counts_all_exactly(self):
        kept = journal.Journal(limit=2)
        first, second, third, fourth = record(kept, 4)
        record(kept, 1, kind='reply')[0].outcome = 'delivered'
        first.outcome = 'delivered'
        first.outcome = 'handled'
        second.outcome = 'lost'
        fourth.outcome = 'handled'
        self.assertEqual([4, 5], [e.seq for e in kept.entries()])
        self.assertEqual({'delivered': 1, 'handled': 2, 'lost': 1,
                          'queued': 1}, kept.counts())
        self.assertEqual({'handled': 2, 'lost': 1, 'queued': 1},
                         kept.counts(kind='cast'))
        self.assertEqual({'delivered': 1}, kept.counts(kind='reply'))
        self.assertEqual({}, kept.counts(kind='call'))

    def test_off_keeps_no_entry_and_still_counts_every_one(self):
        off = journal.Journal(limit=0)
        entries = record(off, 3)
        entries[0].outcome = 'handled'
        self.assertEqual(([], 0, 3), (off.entries(), len(off), off.recorded))
        self.assertEqual({'handled': 1, 'queued': 2}, off.counts())
        self.assertEqual(
            '(the journal is off: 3 of 3 entries not kept; all by outcome: '
            'handled 1, queued 2)', off.render())

    def test_render_says_how_many_entries_were_not_kept(self):
        kept = journal.Journal(limit=1)
        record(kept, 3)[2].outcome = 'unroutable'
        self.assertEqual(
            '(the journal keeps the last 1: 2 of 3 entries not kept; all by '
            'outcome: queued 2, unroutable 1)\n'
            '#3 [+0.000 s real] cast m to x/t from test: unroutable',
            kept.render())

    def test_unbounded_keeps_every_entry(self):
        kept = journal.Journal(limit=None)
        record(kept, 3)
        self.assertEqual([1, 2, 3], [e.seq for e in kept.entries()])

    def test_changing_the_limit_keeps_the_last_entries(self):
        kept = journal.Journal(limit=None)
        record(kept, 5)
        kept.limit = 2
        self.assertEqual([4, 5], [e.seq for e in kept.entries()])
        kept.limit = 0
        self.assertEqual([], kept.entries())
        kept.limit = 3
        record(kept, 1)
        self.assertEqual(([6], 6), ([e.seq for e in kept.entries()],
                                    kept.recorded))
        self.assertEqual({'queued': 6}, kept.counts())

    def test_clear_forgets_entries_and_counts_and_keeps_the_limit(self):
        kept = journal.Journal(limit=2)
        in_flight = record(kept, 3)[0]
        kept.clear()
        in_flight.outcome = 'handled'
        self.assertEqual(([], 0, {}, 2),
                         (kept.entries(), kept.recorded, kept.counts(),
                          kept.limit))
        self.assertEqual([4], [e.seq for e in record(kept, 1)])

    def test_bad_limit_is_refused_with_an_exact_error(self):
        for bad in (-1, 1.5, True, 'off'):
            error = self.assertRaises(ValueError, journal.Journal, bad)
            self.assertEqual(
                f"a journal limit must be a whole number of entries >= 0 "
                f"(0: off) or None (unbounded), got {bad!r}", str(error))
        kept = journal.Journal(limit=3)
        error = self.assertRaises(ValueError, setattr, kept, 'limit', -2)
        self.assertEqual(
            "a journal limit must be a whole number of entries >= 0 (0: off) "
            "or None (unbounded), got -2", str(error))
        self.assertEqual(3, kept.limit)

    def test_environment_variable_sets_the_limit(self):
        for value, limit in (('off', 0), ('OFF', 0), ('0', 0), (' 25 ', 25),
                             ('unbounded', None), ('', 10000)):
            self.useFixture(fixtures.EnvironmentVariable(
                'FAKE_TRANSPORT_JOURNAL', value))
            self.assertEqual(limit, journal.Journal().limit, value)

    def test_bad_environment_value_is_refused_naming_the_variable(self):
        for bad in ('lots', '-1', '1e3', 'none'):
            self.useFixture(fixtures.EnvironmentVariable(
                'FAKE_TRANSPORT_JOURNAL', bad))
            error = self.assertRaises(ValueError, journal.Journal)
            self.assertEqual(
                f"FAKE_TRANSPORT_JOURNAL must be 'off', 'unbounded' or a "
                f"whole number of entries >= 0, got {bad!r}", str(error))


class TestBrokerJournal(base.BusTestCase):

    def test_bus_with_the_journal_off_keeps_exact_counts(self):
        self.broker.journal.limit = 0
        endpoint, _ = self.start_server()
        client = self.client()
        for i in range(5):
            client.cast({}, 'echo', value=i)
        self.assertEqual(5, client.call({}, 'echo', value=5))
        self.client(topic='nobody').cast({}, 'echo')
        self.broker.settle(timeout=10)
        self.assertEqual(6, len(endpoint.calls))
        self.assertEqual([], self.broker.journal.entries())
        self.assertEqual(
            ({'handled': 5, 'unroutable': 1}, {'handled': 1},
             {'delivered': 1}),
            (self.broker.journal.counts(kind='cast'),
             self.broker.journal.counts(kind='call'),
             self.broker.journal.counts(kind='reply')))

    def test_environment_variable_applies_to_each_new_bus(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'FAKE_TRANSPORT_JOURNAL', '7'))
        url = f'memory://test-{uuid.uuid4().hex}/'
        self.addCleanup(fake_transport.discard_broker, url)
        self.assertEqual(7, fake_transport.get_broker(url).journal.limit)

    def test_reset_clears_the_counts_and_keeps_the_limit(self):
        self.broker.journal.limit = 5
        self.client(topic='nobody').cast({}, 'echo')
        self.broker.reset()
        self.assertEqual(({}, 5), (self.broker.journal.counts(),
                                   self.broker.journal.limit))


class TestJournalTimes(testtools.TestCase):

    def set_virtual_clock(self, read):
        self.addCleanup(journal.set_virtual_clock, None)
        journal.set_virtual_clock(read)

    def test_entries_record_real_time_and_no_virtual_time_by_default(self):
        before = time.time()
        entry = record(journal.Journal(), 1)[0]
        self.assertTrue(before - 1 <= entry.real <= time.time() + 1)
        self.assertIsNone(entry.virtual)

    def test_entries_record_what_the_virtual_clock_reads(self):
        times = iter([0.5, None])
        self.set_virtual_clock(lambda: next(times))
        first, second = record(journal.Journal(), 2)
        self.assertEqual((0.5, None), (first.virtual, second.virtual))
        self.assertIsNotNone(second.real)

    def test_render_shows_virtual_time_since_the_first_entry(self):
        times = iter([2.0, 3.25, None, 33.0])
        self.set_virtual_clock(lambda: next(times))
        kept = journal.Journal()
        record(kept, 4)[3].outcome = 'expired'
        self.assertEqual(
            '#1 [+0.000 s] cast m to x/t from test: queued\n'
            '#2 [+1.250 s] cast m to x/t from test: queued\n'
            '#3 [? s] cast m to x/t from test: queued\n'
            '#4 [+31.000 s] cast m to x/t from test: expired',
            kept.render())

    def test_render_shows_real_time_without_a_virtual_clock(self):
        kept = journal.Journal()
        first, second = record(kept, 2)
        first.real, second.real = 100.0, 100.5
        self.assertEqual(
            '#1 [+0.000 s real] cast m to x/t from test: queued\n'
            '#2 [+0.500 s real] cast m to x/t from test: queued',
            kept.render())

    def test_render_without_timestamps_is_one_str_per_entry(self):
        kept = journal.Journal()
        entries = record(kept, 2)
        self.assertEqual('\n'.join(str(e) for e in entries),
                         kept.render(timestamps=False))
        self.assertEqual('#1 cast m to x/t from test: queued',
                         str(entries[0]))

    def test_times_are_not_compared_nor_shown_by_repr(self):
        first = record(journal.Journal(), 1)[0]
        second = record(journal.Journal(), 1)[0]
        second.real, second.virtual = 1.0, 2.0
        self.assertEqual(first, second)
        self.assertNotIn('real', repr(first))
