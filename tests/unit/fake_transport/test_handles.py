"""Context keys passed by handle: the very same object, same process only."""

import gc
import threading
import weakref

import fixtures
import oslo_messaging
import testtools

import fake_transport
from fake_transport import handles
from tests.unit.fake_transport import base


class Connection:
    """A live object JSON can't carry, as an oslo.db transaction context."""

    def __repr__(self):
        return '<Connection>'


class Opaque:
    def __repr__(self):
        return '<Opaque>'


class Context:
    """A request context, as Nova's, with a live connection on it."""

    def __init__(self, user, db_connection=None):
        self.user = user
        self.db_connection = db_connection

    def to_dict(self):
        return {'user': self.user, 'db_connection': self.db_connection}

    def redacted_copy(self):
        return Context(self.user, self.db_connection)


class CheatingSerializer(oslo_messaging.NoOpSerializer):
    """What Nova's test CheatingSerializer does to contexts."""

    def serialize_context(self, context):
        return {'user': context.user, 'db_connection': context.db_connection}

    def deserialize_context(self, values):
        db_connection = values.pop('db_connection', None)
        return Context(values['user'], db_connection)


class ContextKeeper:
    """An endpoint keeping each context it is given."""

    def __init__(self):
        self.contexts = []
        self.lock = threading.Lock()

    def keep(self, ctxt):
        with self.lock:
            self.contexts.append(ctxt)
        return 'kept'

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.keep(ctxt)


class TestPassByHandle(base.BusTestCase):

    def setUp(self):
        super().setUp()
        self.broker.pass_by_handle('db_connection')
        self.connection = Connection()

    def test_call_hands_the_server_the_very_same_object(self):
        keeper = ContextKeeper()
        self.start_server(endpoint=keeper)
        self.assertEqual('kept', self.client().call(
            {'db_connection': self.connection, 'user': 'u'}, 'keep'))
        [ctxt] = keeper.contexts
        self.assertIs(self.connection, ctxt['db_connection'])
        self.assertEqual('u', ctxt['user'])

    def test_call_through_a_cheating_serializer_as_nova_does(self):
        keeper = ContextKeeper()
        server = oslo_messaging.get_rpc_server(
            self.transport, oslo_messaging.Target(topic='topic', server='s'),
            [keeper], executor='threading', serializer=CheatingSerializer())
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = self.client(serializer=CheatingSerializer())
        self.assertEqual('kept', client.call(
            Context('u', self.connection), 'keep'))
        [ctxt] = keeper.contexts
        self.assertIsInstance(ctxt, Context)
        self.assertIs(self.connection, ctxt.db_connection)

    def test_cast_hands_the_server_the_very_same_object(self):
        keeper = ContextKeeper()
        self.start_server(endpoint=keeper)
        self.client().cast({'db_connection': self.connection}, 'keep')
        self.broker.settle(timeout=10)
        [ctxt] = keeper.contexts
        self.assertIs(self.connection, ctxt['db_connection'])

    def test_fanout_hands_every_server_the_very_same_object(self):
        keepers = [ContextKeeper(), ContextKeeper()]
        for name, keeper in zip(('a', 'b'), keepers):
            self.start_server(server=name, endpoint=keeper)
        self.client().prepare(fanout=True).cast(
            {'db_connection': self.connection}, 'keep')
        self.broker.settle(timeout=10)
        self.assertEqual(
            [[True], [True]],
            [[c['db_connection'] is self.connection for c in k.contexts]
             for k in keepers])

    def test_notification_hands_the_listener_the_very_same_object(self):
        keeper = ContextKeeper()
        self.start_notification_listener(['notifications'], endpoint=keeper)
        # NOTE(tests): the notifier drops a plain dict context; it sends
        # an object's redacted_copy().to_dict().
        self.notifier().info(Context('u', self.connection),
                             'thing.happened', {'n': 1})
        self.broker.settle(timeout=10)
        [ctxt] = keeper.contexts
        self.assertIs(self.connection, ctxt['db_connection'])

    def test_other_keys_are_still_json_round_tripped(self):
        keeper = ContextKeeper()
        self.start_server(endpoint=keeper)
        sent = {'db_connection': self.connection, 'pair': (1, 2)}
        self.client().call(sent, 'keep')
        [ctxt] = keeper.contexts
        self.assertEqual([1, 2], ctxt['pair'])
        self.assertEqual(
            {'db_connection': self.connection, 'pair': (1, 2)}, sent)

    def test_a_none_value_travels_as_json(self):
        keeper = ContextKeeper()
        self.start_server(endpoint=keeper)
        self.client().call({'db_connection': None}, 'keep')
        [ctxt] = keeper.contexts
        self.assertIsNone(ctxt['db_connection'])

    def test_a_key_not_opted_in_is_refused_with_the_usual_error(self):
        error = self.assertRaises(
            fake_transport.NotSerializable, self.client().cast,
            {'db_connection': self.connection, 'mq_connection': Opaque()},
            'keep')
        self.assertEqual(
            "Context key ctxt['mq_connection'] is not JSON serializable: "
            "<Opaque> (type Opaque)", str(error))
        self.assertEqual(0, len(self.broker.journal))

    def test_another_bus_still_refuses_the_key(self):
        other_url = self.url.replace('test-', 'other-')
        self.addCleanup(fake_transport.discard_broker, other_url)
        other = self.make_transport(other_url)
        error = self.assertRaises(
            fake_transport.NotSerializable, self.client(transport=other).cast,
            {'db_connection': self.connection}, 'keep')
        self.assertEqual(
            "Context key ctxt['db_connection'] is not JSON serializable: "
            "<Connection> (type Connection)", str(error))

    def test_keys_add_up(self):
        self.broker.pass_by_handle('mq_connection', 'db_connection')
        self.assertEqual(frozenset({'db_connection', 'mq_connection'}),
                         self.broker.handle_keys)

    def test_reset_forgets_the_keys_and_frees_the_objects(self):
        connection = Connection()
        alive = weakref.ref(connection)
        self.client(topic='nobody').cast({'db_connection': connection},
                                         'keep')
        del connection
        gc.collect()
        self.assertIsNotNone(alive())
        self.broker.reset()
        gc.collect()
        self.assertIsNone(alive())
        self.assertEqual(frozenset(), self.broker.handle_keys)
        error = self.assertRaises(
            fake_transport.NotSerializable, self.client().cast,
            {'db_connection': self.connection}, 'keep')
        self.assertEqual(
            "Context key ctxt['db_connection'] is not JSON serializable: "
            "<Connection> (type Connection)", str(error))

    def test_discard_broker_forgets_the_keys(self):
        fake_transport.discard_broker(self.url)
        self.assertEqual(frozenset(), self.broker.handle_keys)


class TestPassByHandleValidation(base.BusTestCase):

    def test_a_key_that_is_not_a_str_is_refused(self):
        error = self.assertRaises(TypeError, self.broker.pass_by_handle,
                                  'db_connection', 1)
        self.assertEqual(
            'pass_by_handle() takes context keys as str, got 1 (type int)',
            str(error))
        self.assertEqual(frozenset(), self.broker.handle_keys)

    def test_an_empty_key_is_refused(self):
        error = self.assertRaises(ValueError, self.broker.pass_by_handle, '')
        self.assertEqual('pass_by_handle() got an empty context key',
                         str(error))

    def test_no_key_at_all_is_refused(self):
        error = self.assertRaises(ValueError, self.broker.pass_by_handle)
        self.assertEqual('pass_by_handle() needs at least one context key',
                         str(error))

    def test_no_key_is_passed_by_handle_by_default(self):
        self.assertEqual(frozenset(), self.broker.handle_keys)


class TestHandleTable(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.table = handles.HandleTable()
        self.table.add_keys(frozenset({'db'}))

    def test_stash_leaves_the_given_context_alone(self):
        obj = Connection()
        context = {'db': obj, 'user': 'u'}
        stashed = self.table.stash(context)
        self.assertEqual({'db': obj, 'user': 'u'}, context)
        self.assertEqual({'db': {'__fake_transport_handle__': 1},
                          'user': 'u'}, stashed)

    def test_one_object_sent_twice_keeps_its_handle(self):
        obj = Connection()
        self.assertEqual(self.table.stash({'db': obj}),
                         self.table.stash({'db': obj}))
        self.assertEqual({'db': {'__fake_transport_handle__': 2}},
                         self.table.stash({'db': Connection()}))

    def test_restore_puts_back_the_object(self):
        obj = Connection()
        ctxt = dict(self.table.stash({'db': obj}))
        self.table.restore(ctxt)
        self.assertIs(obj, ctxt['db'])

    def test_a_forgotten_handle_is_left_as_it_is_with_a_warning(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='fake_transport.handles'))
        ctxt = self.table.stash({'db': Connection()})
        self.table.clear()
        self.table.add_keys(frozenset({'db'}))
        self.table.restore(ctxt)
        self.assertEqual({'db': {'__fake_transport_handle__': 1}}, ctxt)
        self.assertEqual(
            "Context key 'db' holds handle 1, which this bus forgot at "
            "reset(); left as it is\n", logger.output)

    def test_without_keys_the_context_is_returned_as_is(self):
        context = {'db': Connection()}
        self.assertIs(context, handles.HandleTable().stash(context))
