"""RPC semantics of memory://, row by row against rabbit's behaviour."""

import collections
import datetime
import threading

import oslo_messaging

import fake_transport
from tests.unit.fake_transport import base


class CustomError(Exception):
    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code
        self.kwargs = {'code': code}


class Opaque:
    def __repr__(self):
        return '<Opaque>'


class KeywordOnlyError(Exception):
    def __init__(self, *, reason):
        super().__init__(reason)


class Raiser:
    def builtin(self, ctxt):
        raise ValueError('bad value')

    def custom(self, ctxt):
        raise CustomError('custom failure', code=42)

    def keyword_only(self, ctxt):
        raise KeywordOnlyError(reason='nope')

    def timeout(self, ctxt):
        raise oslo_messaging.MessagingTimeout('inner timeout')


class TestAddressing(base.BusTestCase):

    def test_casts_to_a_topic_split_round_robin_between_two_servers(self):
        a, _ = self.start_server(server='a')
        b, _ = self.start_server(server='b')
        client = self.client()
        for i in range(100):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual((50, 50), (len(a.calls), len(b.calls)))

    def test_calls_to_a_topic_split_round_robin_between_two_servers(self):
        a, _ = self.start_server(server='a')
        b, _ = self.start_server(server='b')
        client = self.client()
        answers = collections.Counter(
            client.call({}, 'whoami') for _ in range(100))
        self.assertEqual({'a': 50, 'b': 50}, dict(answers))

    def test_server_targeted_cast_reaches_only_that_server(self):
        a, _ = self.start_server(server='a')
        b, _ = self.start_server(server='b')
        client = self.client().prepare(server='b')
        for i in range(20):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual((0, 20), (len(a.calls), len(b.calls)))

    def test_topic_queue_is_shared_across_exchanges_as_in_rabbit(self):
        x1, _ = self.start_server(server='s1', exchange='x1')
        x2, _ = self.start_server(server='s2', exchange='x2')
        client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic='topic',
                                                  exchange='x1'))
        for i in range(5):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual((3, 2), (len(x1.calls), len(x2.calls)))

    def test_fanout_reaches_every_server_of_the_topic(self):
        servers = [self.start_server(server=f's{i}')[0] for i in range(3)]
        client = self.client().prepare(fanout=True)
        for i in range(10):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual([10, 10, 10], [len(s.calls) for s in servers])

    def test_fanout_reaches_two_servers_sharing_a_name(self):
        one, _ = self.start_server(server='same')
        two, _ = self.start_server(server='same')
        client = self.client().prepare(fanout=True)
        for i in range(10):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual((10, 10), (len(one.calls), len(two.calls)))

    def test_fanout_call_is_refused(self):
        client = self.client().prepare(fanout=True)
        self.assertRaises(oslo_messaging.InvalidTarget,
                          client.call, {}, 'echo')

    def test_fanout_with_no_listener_is_dropped(self):
        self.client().prepare(fanout=True).cast({}, 'echo', value=1)
        self.assertEqual(['unroutable'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_cast_nobody_is_bound_to_is_dropped(self):
        self.client(topic='nobody').cast({}, 'echo', value=1)
        self.start_server(topic='nobody')
        self.broker.settle(timeout=10)
        self.assertEqual([], self.broker.unconsumed())
        self.assertEqual(
            'unroutable', self.broker.journal.entries(kind='cast')[0].outcome)

    def test_virtual_hosts_are_isolated_buses(self):
        other_url = self.url.replace('test-', 'other-')
        self.addCleanup(fake_transport.discard_broker, other_url)
        other = self.make_transport(other_url)
        here, _ = self.start_server(server='h')
        there, _ = self.start_server(server='h', transport=other)
        self.assertEqual('h', self.client(transport=other).call(
            {}, 'whoami'))
        self.broker.settle(timeout=10)
        self.assertEqual((0, 1), (len(here.calls), len(there.calls)))
        self.assertIsNot(self.broker, fake_transport.get_broker(other_url))


class TestSerialization(base.BusTestCase):

    def test_server_mutating_arguments_never_touches_the_caller(self):
        self.start_server()
        value = ['client']
        ctxt = {'user': 'u'}
        result = self.client().call(ctxt, 'mutate', value=value)
        self.assertEqual(['client', 'server'], result)
        self.assertEqual(['client'], value)
        self.assertEqual({'user': 'u'}, ctxt)

    def test_arguments_arrive_as_json_would_carry_them(self):
        endpoint, _ = self.start_server()
        value = {'tuple': (1, 2), 'set': {3}, 1: 'int key',
                 'when': datetime.datetime(2020, 1, 2, 3, 4, 5),
                 'bytes': b'xy', 'pairs': [(1, 2)]}
        self.client().call({}, 'echo', value=value)
        self.assertEqual(
            {'tuple': [1, 2], 'set': [3], '1': 'int key',
             'when': '2020-01-02T03:04:05.000000', 'bytes': 'xy',
             'pairs': [[1, 2]]},
            endpoint.calls[0][1]['value'])

    def test_returned_tuple_arrives_as_list(self):
        self.start_server()
        self.assertEqual([1, 2], self.client().call({}, 'echo', value=(1, 2)))

    def test_context_at_server_has_client_timeout_added(self):
        self.start_server()
        ctxt = self.client().call({'user': 'u', 'n': 1}, 'context')
        self.assertEqual({'client_timeout': None, 'n': 1, 'user': 'u'}, ctxt)

    def test_unserializable_argument_is_refused_at_send_naming_it(self):
        self.start_server()
        error = self.assertRaises(
            fake_transport.NotSerializable, self.client().cast, {}, 'echo',
            value={'spec': {'obj': Opaque()}})
        self.assertIsInstance(error, ValueError)
        self.assertEqual(
            "Message argument args['value']['spec']['obj'] is not JSON "
            "serializable: <Opaque> (type Opaque)", str(error))
        self.assertEqual(0, len(self.broker.journal))

    def test_unserializable_context_is_refused_at_send_naming_it(self):
        error = self.assertRaises(
            fake_transport.NotSerializable, self.client().cast,
            {'user': Opaque()}, 'echo', value=1)
        self.assertEqual(
            "Context key ctxt['user'] is not JSON serializable: "
            "<Opaque> (type Opaque)", str(error))


class TestRemoteExceptions(base.BusTestCase):

    def setUp(self):
        super().setUp()
        self.start_server(endpoint=Raiser())

    def test_builtin_exception_keeps_its_type_and_gains_the_traceback(self):
        error = self.assertRaises(ValueError, self.client().call,
                                  {}, 'builtin')
        self.assertTrue(str(error).startswith('bad value\n'))
        self.assertIn('Traceback', str(error))

    def test_custom_exception_from_unlisted_module_is_remote_error(self):
        error = self.assertRaises(oslo_messaging.RemoteError,
                                  self.client().call, {}, 'custom')
        self.assertEqual('CustomError', error.exc_type)
        self.assertEqual('custom failure', error.value)

    def test_custom_exception_from_allowed_module_is_rebuilt(self):
        transport = oslo_messaging.get_rpc_transport(
            self.conf, url=self.url,
            allowed_remote_exmods=[__name__])
        self.addCleanup(transport.cleanup)
        error = self.assertRaises(
            CustomError, self.client(transport=transport).call, {}, 'custom')
        self.assertEqual('CustomError_Remote', type(error).__name__)
        self.assertEqual(42, error.code)

    def test_exception_that_cannot_be_rebuilt_is_remote_error(self):
        transport = oslo_messaging.get_rpc_transport(
            self.conf, url=self.url, allowed_remote_exmods=[__name__])
        self.addCleanup(transport.cleanup)
        error = self.assertRaises(
            oslo_messaging.RemoteError,
            self.client(transport=transport).call, {}, 'keyword_only')
        self.assertEqual('KeywordOnlyError', error.exc_type)

    def test_endpoint_messaging_timeout_is_remote_error(self):
        error = self.assertRaises(oslo_messaging.RemoteError,
                                  self.client().call, {}, 'timeout')
        self.assertEqual('MessagingTimeout', error.exc_type)

    def test_unknown_method_is_remote_no_such_method(self):
        error = self.assertRaises(oslo_messaging.RemoteError,
                                  self.client().call, {}, 'missing')
        self.assertEqual('NoSuchMethod', error.exc_type)


class TestTimeouts(base.BusTestCase):

    def test_call_nobody_listens_to_times_out(self):
        client = self.client(topic='nobody', timeout=0.05)
        error = self.assertRaises(oslo_messaging.MessagingTimeout,
                                  client.call, {}, 'echo')
        self.assertRegex(
            str(error),
            r"^Timed out waiting for a reply to message ID [0-9a-f]{32} on "
            r"topic 'nobody' after 0.05 s$")

    def test_call_monitor_timeout_ends_a_call_nobody_heartbeats(self):
        self.start_server(server='down')
        self.broker.take_down('down')
        client = self.client(timeout=30, call_monitor_timeout=0.05)
        error = self.assertRaises(oslo_messaging.MessagingTimeout,
                                  client.call, {}, 'echo')
        self.assertIn('after 0.05 s', str(error))

    def test_call_message_expires_while_server_is_down_cast_survives(self):
        endpoint, _ = self.start_server(server='s')
        self.broker.take_down('s')
        client = self.client().prepare(server='s', timeout=0.05)
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          client.call, {}, 'echo', value='call')
        client.cast({}, 'echo', value='cast')
        self.broker.bring_up('s')
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 'cast'})], endpoint.calls)
        self.assertEqual(
            ['expired', 'handled'],
            [e.outcome for e in self.broker.journal.entries(queue='topic.s')])

    def test_end_calls_ends_a_waiting_call_at_once_and_says_why(self):
        endpoint, _ = self.start_server(server='s')
        # NOTE(tests): the server answers; its reply never arrives.
        self.broker.drop(kind='reply')
        errors = []

        def call():
            client = self.client().prepare(server='s', timeout=30)
            try:
                client.call({}, 'echo')
            except oslo_messaging.MessagingTimeout as exc:
                errors.append(exc)

        caller = threading.Thread(target=call, name='caller')
        caller.start()
        endpoint.arrived.wait()
        self.assertEqual(1, self.broker.end_calls('the test timed out'))
        caller.join()
        [error] = errors
        self.assertRegex(
            str(error),
            r"^Stopped waiting for a reply to message ID [0-9a-f]{32} on "
            r"topic 'topic': the test timed out$")
        self.assertEqual(0, self.broker.end_calls('again'))

    def test_at_least_once_to_nobody_raises_undeliverable(self):
        options = oslo_messaging.TransportOptions(at_least_once=True)
        client = self.client(topic='nobody', transport_options=options)
        self.assertRaises(oslo_messaging.MessageUndeliverable,
                          client.call, {}, 'echo')
        self.assertRaises(oslo_messaging.MessageUndeliverable,
                          client.cast, {}, 'echo')


class TestStoppedServers(base.BusTestCase):

    def test_cast_to_stopped_server_waits_and_reaches_its_successor(self):
        _, first = self.start_server(server='s')
        first.stop()
        first.wait()
        self.client().prepare(server='s').cast({}, 'echo', value=1)
        self.assertEqual(['cast'],
                         [e.kind for e in self.broker.unconsumed()])
        successor, _ = self.start_server(server='s')
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})], successor.calls)
        self.assertEqual([], self.broker.unconsumed())

    def test_use_after_cleanup_is_refused(self):
        self.transport.cleanup()
        error = self.assertRaises(
            RuntimeError, self.client().cast, {}, 'echo')
        self.assertEqual(
            f"This memory://{self.broker.name}/ transport was cleaned up; "
            f"create a new transport", str(error))
