"""Fault rules: which rule acts and counts a hit, and what is refused."""

import threading

from fake_transport import faults
from tests.unit.fake_transport import base


class TestWhichRuleActs(base.BusTestCase):
    """Issue 10 item 9: only the rule that acts counts a hit."""

    def test_duplicate_budget_is_not_spent_by_a_dropped_message(self):
        endpoint, _ = self.start_server()
        duplicate = self.broker.duplicate(times=1)
        drop = self.broker.drop(times=1)
        client = self.client()
        client.cast({}, 'echo', value='dropped')
        self.assertEqual((0, 1), (duplicate.hits, drop.hits))
        client.cast({}, 'echo', value='duplicated')
        self.broker.settle(timeout=10)
        self.assertEqual((1, 1), (duplicate.hits, drop.hits))
        self.assertEqual([('echo', {'value': 'duplicated'})], endpoint.calls)
        self.assertEqual(['dropped', 'handled', 'duplicate'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_a_drop_rule_acts_alone_whatever_the_order_rules_came_in(self):
        endpoint, _ = self.start_server()
        delay = self.broker.delay(0.01, method='echo')
        drop = self.broker.drop(method='echo', times=1)
        self.client().cast({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        self.assertEqual((0, 1), (delay.hits, drop.hits))
        self.assertEqual([], endpoint.calls)
        self.assertEqual(['dropped'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_duplicates_and_a_delay_combine_each_counting_one_hit(self):
        first, _ = self.start_server(server='a')
        second, _ = self.start_server(server='b')
        delay = self.broker.delay(0.01, kind='cast')
        duplicate = self.broker.duplicate(kind='cast', times=1)
        self.client().cast({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        self.assertEqual((1, 1), (delay.hits, duplicate.hits))
        self.assertEqual((1, 1), (len(first.calls), len(second.calls)))

    def test_delay_rule_without_a_kind_delays_the_call_not_its_reply(self):
        self.start_server()
        delay = self.broker.delay(0.01, topic='topic')
        self.assertEqual('host', self.client().call({}, 'whoami'))
        self.broker.settle(timeout=10)
        self.assertEqual(1, delay.hits)
        self.assertEqual(['delayed', 'handled', 'delivered'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_duplicate_rule_without_a_kind_counts_no_hit_on_the_reply(self):
        self.start_server()
        duplicate = self.broker.duplicate(topic='topic')
        self.assertEqual('host', self.client().call({}, 'whoami'))
        self.broker.settle(timeout=10)
        self.assertEqual(1, duplicate.hits)
        self.assertEqual(
            [('call', 'duplicate'), ('call', 'handled'),
             ('reply', 'delivered')],
            sorted((e.kind, e.outcome)
                   for e in self.broker.journal.entries()))

    def test_delay_or_duplicate_of_replies_is_refused(self):
        error = self.assertRaises(ValueError, self.broker.delay, 5,
                                  kind='reply')
        self.assertEqual(
            "a delay rule can't match kind 'reply': delay and duplicate act "
            "on calls, casts, fanouts and notifications; a reply can only "
            "be dropped or failed", str(error))
        error = self.assertRaises(ValueError, self.broker.duplicate,
                                  kind='reply')
        self.assertEqual(
            "a duplicate rule can't match kind 'reply': delay and duplicate "
            "act on calls, casts, fanouts and notifications; a reply can "
            "only be dropped or failed", str(error))


class TestRefusedRules(base.BusTestCase):
    """Issue 10 item 10: a rule that could never match is refused."""

    def assertRefused(self, message, make, *args, **kwargs):
        error = self.assertRaises(ValueError, make, *args, **kwargs)
        self.assertEqual(message, str(error))

    def test_kind_must_be_one_of_the_message_kinds(self):
        for kind in ('calls', 123, ['call']):
            self.assertRefused(
                f"fault match field 'kind' must be one of call, cast, "
                f"fanout, notification, reply or None, got {kind!r}",
                self.broker.drop, kind=kind)

    def test_other_match_fields_must_be_strings(self):
        self.assertRefused(
            "fault match field 'topic' must be a string or None, got 5",
            self.broker.fail, topic=5)
        self.assertRefused(
            "fault match field 'server' must be a string or None, got "
            "['a', 'b']", self.broker.duplicate, server=['a', 'b'])

    def test_times_must_be_a_whole_number_from_one(self):
        for times in (2.5, True, '3', 0):
            self.assertRefused(
                f"times must be a whole number >= 1 or None, got {times!r}",
                self.broker.drop, times=times)

    def test_delay_must_be_a_number_a_timer_can_wait(self):
        for seconds in ('5', float('nan'), float('inf'), -1, True, None):
            self.assertRefused(
                f"a delay must be a finite number of seconds >= 0, got "
                f"{seconds!r}", self.broker.delay, seconds)
        for seconds in (1e12, 10 ** 400):
            self.assertRefused(
                f"a delay must be at most {threading.TIMEOUT_MAX:.0f} s, "
                f"the longest wait threading allows, got {seconds!r}",
                self.broker.delay, seconds)

    def test_longest_delay_allowed_holds_the_message_until_reset(self):
        endpoint, _ = self.start_server()
        self.broker.delay(faults.MAX_SECONDS, method='echo')
        self.client().cast({}, 'echo', value=1)
        self.assertEqual(['delayed'],
                         [e.outcome for e in self.broker.in_flight()])
        self.broker.reset()
        self.broker.settle(timeout=10)
        self.assertEqual([], endpoint.calls)

    def test_seconds_is_for_delay_rules_only(self):
        self.assertRefused(
            "seconds applies to delay rules only, got 5 for a drop rule",
            self.broker.add_fault, 'drop', seconds=5)

    def test_a_refused_rule_is_not_applied(self):
        endpoint, _ = self.start_server()
        self.assertRaises(ValueError, self.broker.drop, kind='calls',
                          topic='topic')
        self.assertEqual('host', self.client().call({}, 'whoami'))

    def test_take_down_and_bring_up_need_a_server_name(self):
        for server in (None, 123, ''):
            self.assertRefused(
                f"take_down() needs a server name (a non-empty string), got "
                f"{server!r}", self.broker.take_down, server)
            self.assertRefused(
                f"bring_up() needs a server name (a non-empty string), got "
                f"{server!r}", self.broker.bring_up, server)

    def test_a_server_not_started_yet_may_be_taken_down(self):
        self.broker.take_down('later')
        endpoint, _ = self.start_server(server='later')
        self.client().prepare(server='later').cast({}, 'echo', value=1)
        self.assertEqual(1, len(self.broker.unconsumed()))
        self.broker.bring_up('later')
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})], endpoint.calls)

    def test_partition_groups_must_be_lists_of_server_names(self):
        self.assertRefused(
            "partition() group_a must be a list of server names, got 'abc'",
            self.broker.partition, 'abc', 'def')
        self.assertRefused(
            "partition() group_b must be a list of server names, got None",
            self.broker.partition, ['a'], None)
        self.assertRefused(
            "partition() group_a is empty; a partition needs a server on "
            "each side", self.broker.partition, [], ['b'])
        self.assertRefused(
            "partition() group_b must hold server names (non-empty "
            "strings), got 5", self.broker.partition, ['a'], ['b', 5])


class TestRefusedSettleTimeouts(base.BusTestCase):
    """Issue 10 item 13: settle() refuses a timeout it can't wait for."""

    def test_settle_timeout_must_be_none_or_seconds(self):
        for timeout in (-1, '1', float('nan'), float('inf'), True):
            error = self.assertRaises(ValueError, self.broker.settle,
                                      timeout=timeout)
            self.assertEqual(
                f"settle() timeout must be a finite number of seconds >= 0 "
                f"or None, got {timeout!r}", str(error))

    def test_settle_timeout_of_zero_or_none_is_fine_on_an_idle_bus(self):
        self.broker.settle(timeout=0)
        self.broker.settle(timeout=None)

    def test_call_timeout_check_for_the_driver(self):
        # NOTE(tests): MemoryDriver.send calls this before it publishes.
        error = self.assertRaises(ValueError, faults.check_seconds,
                                  'call timeout', float('nan'), none_ok=True)
        self.assertEqual("call timeout must be a finite number of seconds "
                         ">= 0 or None, got nan", str(error))
        self.assertIsNone(faults.check_seconds('call timeout', None,
                                               none_ok=True))
        self.assertEqual(2.0, faults.check_seconds('call timeout', 2))
