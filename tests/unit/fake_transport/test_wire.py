"""The wire format: every unsendable payload is NotSerializable, named."""

import sys

import oslo_messaging
import testtools

import fake_transport
from fake_transport import wire
import nova_fixtures
from tests.unit.fake_transport import base


def circular_list():
    loop = []
    loop.append(loop)
    return loop


def nested(levels):
    """Return ``levels`` lists, each but the innermost holding the next."""
    outer = inner = []
    for _ in range(levels - 1):
        inner.append([])
        inner = inner[0]
    return outer


class TestDumps(testtools.TestCase):
    """Issue 10 item 11: each failure is NotSerializable naming the path."""

    def assertRefused(self, message, obj, what='Reply value',
                      root='result'):
        error = self.assertRaises(wire.NotSerializable, wire.dumps, obj,
                                  what, root)
        self.assertEqual(message, str(error))
        return error

    def test_int_too_long_to_write_out(self):
        error = self.assertRefused(
            f"Reply value result['n'] is not JSON serializable: an int of "
            f"more than {sys.get_int_max_str_digits()} digits (type int)",
            {'n': 10 ** 5000})
        self.assertEqual("result['n']", error.path)

    def test_key_json_cannot_carry(self):
        self.assertRefused(
            "Reply value result['d'] is not JSON serializable: key (1, 2) "
            "(type tuple) is not a str, int, float, bool or None",
            {'d': {(1, 2): 3}})

    def test_int_key_too_long_to_write_out(self):
        self.assertRefused(
            f"Reply value result is not JSON serializable: a key is an int "
            f"of more than {sys.get_int_max_str_digits()} digits",
            {10 ** 5000: 1})

    def test_list_that_contains_itself(self):
        error = self.assertRefused(
            "Reply value result['l'][0] is not JSON serializable: it "
            "contains itself: it is result['l'] again (a circular "
            "reference)", {'l': circular_list()})
        self.assertEqual("result['l'][0]", error.path)

    def test_dict_that_contains_itself_at_the_root(self):
        loop = {}
        loop['again'] = loop
        self.assertRefused(
            "Message argument ['again'] is not JSON serializable: it "
            "contains itself: it is (the whole payload) again (a circular "
            "reference)", loop, 'Message argument', '')

    def test_nesting_deeper_than_the_encoder_can_go(self):
        self.assertRefused(
            "Reply value result['deep'] is not JSON serializable: it nests "
            "10000 levels deep, deeper than the JSON encoder can go",
            {'shallow': [[1]], 'deep': nested(10000)})

    def test_the_same_object_twice_is_not_circular(self):
        shared = [1]
        self.assertEqual('{"a": [[1], [1]]}', wire.dumps({'a': [shared,
                                                                shared]}))


class Unsendable:
    """An endpoint whose answers can't go back over the wire."""

    def circular(self, ctxt):
        return circular_list()

    def deep(self, ctxt):
        return nested(10000)


class TestThroughTheBus(base.BusTestCase):

    def test_argument_refused_at_send_naming_it_and_nothing_sent(self):
        self.start_server()
        cases = {
            "Message argument args['value'] is not JSON serializable: an "
            f"int of more than {sys.get_int_max_str_digits()} digits (type "
            "int)": 10 ** 5000,
            "Message argument args['value'] is not JSON serializable: key "
            "(1, 2) (type tuple) is not a str, int, float, bool or None":
            {(1, 2): 'x'},
            "Message argument args['value'][0] is not JSON serializable: it "
            "contains itself: it is args['value'] again (a circular "
            "reference)": circular_list(),
            "Message argument args['value'] is not JSON serializable: it "
            "nests 10000 levels deep, deeper than the JSON encoder can go":
            nested(10000),
        }
        for message, value in cases.items():
            error = self.assertRaises(fake_transport.NotSerializable,
                                      self.client().cast, {}, 'echo',
                                      value=value)
            self.assertEqual(message, str(error))
        self.assertEqual(0, len(self.broker.journal))

    def test_context_refused_at_send_naming_it(self):
        error = self.assertRaises(fake_transport.NotSerializable,
                                  self.client().cast,
                                  {'user': circular_list()}, 'echo')
        self.assertEqual(
            "Context key ctxt['user'][0] is not JSON serializable: it "
            "contains itself: it is ctxt['user'] again (a circular "
            "reference)", str(error))

    def test_unsendable_reply_is_lost_and_the_bus_settles(self):
        # NOTE(tests): the RecursionError used to escape the reply path and
        # leave the call in flight for ever. On the clock, the calls' 0.05 s
        # and settle's 5 s pass only while the server is idle, however
        # loaded the machine.
        self.useFixture(nova_fixtures.ClockFixture())
        self.start_server(endpoint=Unsendable())
        client = self.client(timeout=0.05)
        for method in ('circular', 'deep'):
            self.assertRaises(oslo_messaging.MessagingTimeout,
                              client.call, {}, method)
        self.broker.settle(timeout=5)
        self.assertEqual(
            [('circular', 'lost'), ('deep', 'lost')],
            [(e.method, e.outcome)
             for e in self.broker.journal.entries(kind='call')])
        # NOTE(tests): the journal says why (it used to say only "lost").
        circular, deep = self.broker.journal.entries(kind='call')
        self.assertTrue(circular.reason.startswith(
            'the reply was not sent: Reply value '), circular.reason)
        self.assertIn('circular reference', circular.reason)
        self.assertIn('levels deep', deep.reason)
        self.assertIn(': lost (the reply was not sent: ', str(circular))
