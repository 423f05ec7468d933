"""A test base that gives each test its own ``memory://`` bus."""

import threading
import uuid

import fake_transport  # noqa: F401  (threading backend before oslo)

import fixtures
from futurist import _thread as futurist_thread
from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import testtools


class Recorder:
    """An endpoint that records calls and can be made to block."""

    def __init__(self, name='endpoint'):
        self.name = name
        self.calls = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()

    def _note(self, method, **kwargs):
        with self.lock:
            self.calls.append((method, kwargs))
        self.arrived.set()

    def echo(self, ctxt, **kwargs):
        self._note('echo', **kwargs)
        return kwargs.get('value')

    def mutate(self, ctxt, value):
        self._note('mutate', value=value)
        value.append('server')
        ctxt['mutated'] = True
        return value

    def whoami(self, ctxt):
        self._note('whoami')
        return self.name

    def context(self, ctxt):
        self._note('context')
        return ctxt

    def wait_for(self, ctxt, event_name):
        self._note('wait_for')
        getattr(self, event_name).wait(10)
        return self.name


class BusTestCase(testtools.TestCase):
    """Each test gets a fresh bus, config and transports cleaned up after.
    """

    def setUp(self):
        super().setUp()
        # NOTE(tests): futurist's idle workers wait MAX_IDLE_FOR (1 s) before
        # they notice a shutdown; Nova uses the same 0.01 s setting.
        self.useFixture(fixtures.MonkeyPatch(
            'futurist._thread.ThreadWorker.MAX_IDLE_FOR', 0.01))
        assert futurist_thread.ThreadWorker.MAX_IDLE_FOR == 0.01
        self.conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(self.conf))
        self.url = f'memory://test-{uuid.uuid4().hex}/'
        self.broker = fake_transport.get_broker(self.url)
        self.addCleanup(fake_transport.discard_broker, self.url)
        self.transport = self.make_transport()

    def make_transport(self, url=None):
        transport = oslo_messaging.get_rpc_transport(
            self.conf, url=url or self.url)
        self.addCleanup(transport.cleanup)
        return transport

    def make_notification_transport(self, url=None):
        transport = oslo_messaging.get_notification_transport(
            self.conf, url=url or self.url)
        self.addCleanup(transport.cleanup)
        return transport

    def start_server(self, topic='topic', server='host', endpoint=None,
                     exchange=None, transport=None):
        endpoint = endpoint or Recorder(server)
        target = oslo_messaging.Target(topic=topic, server=server,
                                       exchange=exchange)
        rpc_server = oslo_messaging.get_rpc_server(
            transport or self.transport, target, [endpoint],
            executor='threading')
        rpc_server.start()
        self.addCleanup(rpc_server.wait)
        self.addCleanup(rpc_server.stop)
        return endpoint, rpc_server

    def start_notification_listener(self, topics, pool=None, endpoint=None,
                                    allow_requeue=False, transport=None,
                                    batch_size=None, batch_timeout=None):
        endpoint = endpoint or NotificationRecorder()
        targets = [oslo_messaging.Target(topic=t) for t in topics]
        transport = transport or self.make_notification_transport()
        if batch_size:
            listener = oslo_messaging.get_batch_notification_listener(
                transport, targets, [endpoint], executor='threading',
                pool=pool, allow_requeue=allow_requeue,
                batch_size=batch_size, batch_timeout=batch_timeout)
        else:
            listener = oslo_messaging.get_notification_listener(
                transport, targets, [endpoint], executor='threading',
                pool=pool, allow_requeue=allow_requeue)
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        return endpoint

    def client(self, topic='topic', transport=None, **kwargs):
        return oslo_messaging.get_rpc_client(
            transport or self.transport,
            oslo_messaging.Target(topic=topic), **kwargs)

    def notifier(self, topics=('notifications',), transport=None,
                 driver='messagingv2'):
        return oslo_messaging.Notifier(
            transport or self.make_notification_transport(),
            publisher_id='test.host', driver=driver, topics=list(topics))


class NotificationRecorder:
    """A notification endpoint recording (priority, event_type, payload)."""

    def __init__(self, requeue_first=0):
        self.events = []
        self.lock = threading.Lock()
        self.requeue_left = requeue_first

    def _record(self, priority, event_type, payload):
        with self.lock:
            self.events.append((priority, event_type, payload))
            if self.requeue_left:
                self.requeue_left -= 1
                return oslo_messaging.NotificationResult.REQUEUE
        return oslo_messaging.NotificationResult.HANDLED

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record('info', event_type, payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record('error', event_type, payload)
