"""TransportFixture's allowed_remote_exmods and context_handles."""


import fixtures
import oslo_messaging
import testtools

import nova_fixtures
from tests.unit.fake_transport import test_handles


class NoValidHost(Exception):
    """An exception of this module, as ``nova.exception.NoValidHost``."""


class Scheduler:
    def select_destinations(self, ctxt):
        raise NoValidHost('No valid host was found.')


class Connection:
    """A live object JSON can't carry, as an oslo.db transaction context."""

    def __repr__(self):
        return '<Connection>'


ContextKeeper = test_handles.ContextKeeper


class TestAllowedRemoteExmods(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # NOTE(tests): the server logs each endpoint exception it returns.
        self.useFixture(fixtures.FakeLogger())

    def _call_scheduler(self, bus):
        self.useFixture(nova_fixtures.ServiceFixture(
            Scheduler(), 'scheduler', 'h', bus))
        return self.assertRaises(
            Exception, bus.rpc_client('scheduler').call,
            {}, 'select_destinations')

    def test_exception_of_an_allowed_module_arrives_as_its_remote_class(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            allowed_remote_exmods=[__name__]))
        error = self._call_scheduler(bus)
        self.assertEqual('NoValidHost_Remote', type(error).__name__)
        self.assertIsInstance(error, NoValidHost)
        self.assertEqual(('No valid host was found.',), error.args)
        self.assertTrue(str(error).startswith('No valid host was found.\n'))

    def test_a_tuple_of_modules_works_too(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            allowed_remote_exmods=('nova.exception', __name__)))
        error = self._call_scheduler(bus)
        self.assertEqual('NoValidHost_Remote', type(error).__name__)

    def test_exception_of_a_module_not_allowed_is_remote_error(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            allowed_remote_exmods=['nova.exception']))
        error = self._call_scheduler(bus)
        self.assertEqual('RemoteError', type(error).__name__)
        self.assertIsInstance(error, oslo_messaging.RemoteError)
        self.assertEqual(('NoValidHost', 'No valid host was found.'),
                         (error.exc_type, error.value))
        self.assertTrue(str(error).startswith(
            'Remote error: NoValidHost No valid host was found.\n'))

    def test_by_default_no_module_is_allowed(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())
        error = self._call_scheduler(bus)
        self.assertEqual('RemoteError', type(error).__name__)

    def test_both_transports_are_given_the_modules(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            allowed_remote_exmods=(__name__,)))
        # NOTE(tests): oslo.messaging keeps them on the driver only.
        self.assertEqual(
            ([__name__], [__name__]),
            (bus.transport._driver._allowed_remote_exmods,
             bus.notification_transport._driver._allowed_remote_exmods))

    def test_a_lone_module_name_is_refused(self):
        error = self.assertRaises(
            TypeError, nova_fixtures.TransportFixture,
            allowed_remote_exmods='nova.exception')
        self.assertEqual(
            "allowed_remote_exmods takes a list or tuple of module names, "
            "not a str: write ('nova.exception',)", str(error))


class TestContextHandles(testtools.TestCase):

    def test_the_server_gets_the_very_same_object(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            context_handles=('db_connection', 'mq_connection')))
        keeper = ContextKeeper()
        self.useFixture(nova_fixtures.ServiceFixture(
            keeper, 'conductor', 'h', bus))
        connection = Connection()
        self.assertEqual('kept', bus.rpc_client('conductor').call(
            {'db_connection': connection, 'pair': (1, 2)}, 'keep'))
        [ctxt] = keeper.contexts
        self.assertIs(connection, ctxt['db_connection'])
        self.assertEqual([1, 2], ctxt['pair'])
        self.assertEqual(frozenset({'db_connection', 'mq_connection'}),
                         bus.broker.handle_keys)

    def test_the_bus_forgets_the_keys_at_cleanup(self):
        with nova_fixtures.TransportFixture(
                context_handles=('db_connection',)) as bus:
            broker = bus.broker
            self.assertEqual(frozenset({'db_connection'}),
                             broker.handle_keys)
        self.assertEqual(frozenset(), broker.handle_keys)

    def test_by_default_no_key_is_passed_by_handle(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())
        self.assertEqual(frozenset(), bus.broker.handle_keys)

    def test_a_real_broker_is_refused(self):
        error = self.assertRaises(
            ValueError, nova_fixtures.TransportFixture,
            url='rabbit://guest:guest@127.0.0.1:1/',
            context_handles=('db_connection',))
        self.assertEqual(
            'context_handles needs a memory:// bus; '
            'rabbit://guest:guest@127.0.0.1:1/ is a real broker, where a '
            'context only travels as JSON', str(error))

    def test_a_lone_key_is_refused(self):
        error = self.assertRaises(
            TypeError, nova_fixtures.TransportFixture,
            context_handles='db_connection')
        self.assertEqual(
            "context_handles takes a list or tuple of context keys, not a "
            "str: write ('db_connection',)", str(error))

    def test_an_empty_key_is_refused(self):
        error = self.assertRaises(
            ValueError, nova_fixtures.TransportFixture,
            context_handles=('',))
        self.assertEqual('context_handles got an empty context key',
                         str(error))

    def test_a_key_that_is_not_a_str_is_refused(self):
        error = self.assertRaises(
            TypeError, nova_fixtures.TransportFixture,
            context_handles=(None,))
        self.assertEqual(
            'context_handles takes context keys as str, got None (type '
            'NoneType)', str(error))
