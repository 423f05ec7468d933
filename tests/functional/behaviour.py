"""Transport behaviour scenarios, runnable on any transport URL.

Each scenario drives oslo.messaging through a transport and returns what
it observed (counts, types, values), never anything transport-specific, so
the same scenario can run on ``memory://``, ``rabbit://`` and ``fake:`` and
the outcomes can be compared. ``EXPECTED`` holds what RabbitMQ does (as
measured with ``tox -e functional-rabbit``, and as
``doc/source/transport-behaviour.rst`` tabulates); ``test_behaviour``
checks each transport against it and the transports against each other.
"""

import collections
import datetime
import threading
import uuid

import fake_transport  # noqa: F401  (threading backend before oslo)

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture

from nova_fixtures import executor

WAIT = 30


class CustomError(Exception):
    def __init__(self, message, code=None):
        super().__init__(message)
        self.kwargs = {'code': code}


class Endpoint:
    """Records what it handled; can be made to raise or mutate."""

    def __init__(self, name, tally):
        self.name = name
        self.tally = tally

    def hit(self, ctxt, n=0):
        self.tally.add(self.name)
        return self.name

    def mutate(self, ctxt, value):
        value.append('server')
        self.tally.add(self.name)
        return value

    def echo(self, ctxt, value):
        self.tally.add(self.name)
        return value

    def builtin(self, ctxt):
        raise ValueError('bad value')

    def custom(self, ctxt):
        raise CustomError('custom failure', code=42)

    def timeout(self, ctxt):
        raise oslo_messaging.MessagingTimeout('inner')


class Tally:
    """Counts by name; wait() blocks until a total is reached."""

    def __init__(self):
        self.counts = collections.Counter()
        self.cond = threading.Condition()

    def add(self, name):
        with self.cond:
            self.counts[name] += 1
            self.cond.notify_all()

    def wait(self, total):
        with self.cond:
            if not self.cond.wait_for(
                    lambda: sum(self.counts.values()) >= total, WAIT):
                raise AssertionError(f'only {dict(self.counts)} of {total}')


class Notes:
    """A notification endpoint that tallies and can requeue once."""

    def __init__(self, name, tally, requeue_first=0):
        self.name = name
        self.tally = tally
        self.requeue_left = requeue_first

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.tally.add(self.name)
        if self.requeue_left:
            self.requeue_left -= 1
            return oslo_messaging.NotificationResult.REQUEUE
        return oslo_messaging.NotificationResult.HANDLED


class Harness:
    """Transports, servers and listeners for one scenario run."""

    def __init__(self, url):
        self.url = url
        self.conf = cfg.ConfigOpts()
        self.fixture = conffixture.ConfFixture(self.conf)
        self.fixture.setUp()
        self.cleanups = []
        self.tag = uuid.uuid4().hex[:10]
        self.rpc = oslo_messaging.get_rpc_transport(self.conf, url=url)
        self.notify = oslo_messaging.get_notification_transport(
            self.conf, url=url)

    def name(self, base):
        return f'{base}-{self.tag}'

    def server(self, topic, server, tally, exchange=None):
        endpoint = Endpoint(server, tally)
        rpc_server = executor.prompt(oslo_messaging.get_rpc_server(
            self.rpc, oslo_messaging.Target(topic=topic, server=server,
                                            exchange=exchange),
            [endpoint], executor='threading'))
        rpc_server.start()
        self.cleanups.append(lambda: (rpc_server.stop(), rpc_server.wait()))
        return rpc_server

    def listener(self, topics, endpoint, pool=None, allow_requeue=False):
        listener = executor.prompt(oslo_messaging.get_notification_listener(
            self.notify, [oslo_messaging.Target(topic=t) for t in topics],
            [endpoint], executor='threading', pool=pool,
            allow_requeue=allow_requeue))
        listener.start()
        self.cleanups.append(lambda: (listener.stop(), listener.wait()))

    def client(self, topic, **kwargs):
        return oslo_messaging.get_rpc_client(
            self.rpc, oslo_messaging.Target(topic=topic), **kwargs)

    def notifier(self, topic):
        return oslo_messaging.Notifier(self.notify, publisher_id='test',
                                       driver='messagingv2', topics=[topic])

    def close(self):
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.rpc.cleanup()
        self.notify.cleanup()
        self.fixture.cleanUp()


def sync(h, topic, server):
    """A call through ``server``'s queue: earlier messages got there."""
    h.client(topic, timeout=WAIT).prepare(server=server).call({}, 'hit')


# Scenarios ------------------------------------------------------------------

def casts_round_robin(h):
    tally, topic = Tally(), h.name('rr')
    h.server(topic, 'a', tally)
    h.server(topic, 'b', tally)
    for i in range(100):
        h.client(topic).cast({}, 'hit', n=i)
    tally.wait(100)
    return sorted(tally.counts.values())


def calls_round_robin(h):
    tally, topic = Tally(), h.name('rrc')
    h.server(topic, 'a', tally)
    h.server(topic, 'b', tally)
    answers = collections.Counter(
        h.client(topic, timeout=WAIT).call({}, 'hit') for _ in range(100))
    return sorted(answers.values())


def server_targeted(h):
    tally, topic = Tally(), h.name('st')
    h.server(topic, 'a', tally)
    h.server(topic, 'b', tally)
    for _ in range(20):
        h.client(topic).prepare(server='b').cast({}, 'hit')
    tally.wait(20)
    sync(h, topic, 'a')
    return [tally.counts['a'] - 1, tally.counts['b']]


def fanout_three(h):
    tally, topic = Tally(), h.name('fan')
    for name in ('a', 'b', 'c'):
        h.server(topic, name, tally)
    for _ in range(10):
        h.client(topic).prepare(fanout=True).cast({}, 'hit')
    tally.wait(30)
    return sorted(tally.counts.values())


def shared_topic_queue_across_exchanges(h):
    tally, topic = Tally(), h.name('x')
    h.server(topic, 'one', tally, exchange=h.name('x1'))
    h.server(topic, 'two', tally, exchange=h.name('x2'))
    client = oslo_messaging.get_rpc_client(
        h.rpc, oslo_messaging.Target(topic=topic, exchange=h.name('x1')))
    for _ in range(5):
        client.cast({}, 'hit')
    tally.wait(5)
    return sorted(tally.counts.values())


def pools_copy_and_compete(h):
    tally, topic = Tally(), h.name('pool')
    for pool in ('A', 'B'):
        for i in (1, 2):
            h.listener([topic], Notes(f'{pool}{i}', tally),
                       pool=h.name(pool))
    notifier = h.notifier(topic)
    for i in range(40):
        notifier.info({}, 'e', {'i': i})
    tally.wait(80)
    return dict(sorted(tally.counts.items()))


def new_pool_sees_only_later(h):
    tally, topic = Tally(), h.name('late')
    notifier = h.notifier(topic)
    for i in range(5):
        notifier.info({}, 'early', {'i': i})
    h.listener([topic], Notes('pooled', tally), pool=h.name('late'))
    h.listener([topic], Notes('plain', tally))
    tally.wait(5)
    notifier.info({}, 'marker', {})
    tally.wait(7)
    return {'pooled': tally.counts['pooled'] - 1,
            'plain': tally.counts['plain'] - 1}


def requeue_stays_in_its_pool(h):
    tally, topic = Tally(), h.name('rq')
    h.listener([topic], Notes('A', tally, requeue_first=1),
               pool=h.name('A'), allow_requeue=True)
    h.listener([topic], Notes('B', tally), pool=h.name('B'))
    h.notifier(topic).info({}, 'once', {})
    tally.wait(3)
    return dict(sorted(tally.counts.items()))


def mutation_and_json(h):
    tally, topic = Tally(), h.name('json')
    h.server(topic, 's', tally)
    client = h.client(topic, timeout=WAIT)
    value = ['client']
    returned = client.call({'user': 'u'}, 'mutate', value=value)
    echoed = client.call({}, 'echo', value={
        'tuple': (1, 2), 1: 'int key',
        'when': datetime.datetime(2020, 1, 2, 3, 4, 5)})
    return {'caller': value, 'returned': returned, 'echoed': echoed,
            'tuple reply': client.call({}, 'echo', value=(1, 2))}


def remote_exceptions(h):
    tally, topic = Tally(), h.name('exc')
    h.server(topic, 's', tally)
    client = h.client(topic, timeout=WAIT)
    seen = {}
    for method in ('builtin', 'custom', 'timeout', 'missing'):
        try:
            client.call({}, method)
        except oslo_messaging.RemoteError as exc:
            seen[method] = f'RemoteError({exc.exc_type})'
        except Exception as exc:
            seen[method] = type(exc).__name__
    allowed = oslo_messaging.get_rpc_transport(
        h.conf, url=h.url, allowed_remote_exmods=[__name__])
    try:
        oslo_messaging.get_rpc_client(
            allowed, oslo_messaging.Target(topic=topic),
            timeout=WAIT).call({}, 'custom')
    except CustomError as exc:
        seen['custom allowed'] = (type(exc).__name__, exc.kwargs)
    finally:
        allowed.cleanup()
    return seen


def call_nobody_times_out(h):
    try:
        h.client(h.name('nobody'), timeout=1).call({}, 'hit')
    except oslo_messaging.MessagingTimeout:
        return 'MessagingTimeout'
    return 'answered'


def at_least_once_to_nobody(h):
    options = oslo_messaging.TransportOptions(at_least_once=True)
    try:
        h.client(h.name('nobody'), timeout=5,
                 transport_options=options).call({}, 'hit')
    except oslo_messaging.MessageUndeliverable:
        return 'MessageUndeliverable'
    except oslo_messaging.MessagingTimeout:
        return 'MessagingTimeout'
    return 'answered'


def call_expires_while_server_is_down(h):
    tally, topic = Tally(), h.name('down')
    server = h.server(topic, 's', tally)
    sync(h, topic, 's')
    server.stop()
    server.wait()
    client = h.client(topic).prepare(server='s')
    try:
        client.prepare(timeout=1).call({}, 'echo', value='call')
        call = 'answered'
    except oslo_messaging.MessagingTimeout:
        call = 'MessagingTimeout'
    client.cast({}, 'echo', value='cast')
    h.server(topic, 's', tally)
    tally.wait(2)
    sync(h, topic, 's')
    return {'call': call, 'handled after restart': tally.counts['s'] - 2}


def cast_before_any_server_is_dropped(h):
    tally, topic = Tally(), h.name('e8')
    h.client(topic).cast({}, 'hit')
    h.server(topic, 's', tally)
    sync(h, topic, 's')
    return tally.counts['s'] - 1


SCENARIOS = {
    'casts round-robin over 2 servers (100)': (casts_round_robin,
                                               [50, 50]),
    'calls round-robin over 2 servers (100)': (calls_round_robin,
                                               [50, 50]),
    'server-targeted casts (20)': (server_targeted, [0, 20]),
    'fanout to 3 servers (10)': (fanout_three, [10, 10, 10]),
    'topic queue shared across exchanges (5)': (
        shared_topic_queue_across_exchanges, [2, 3]),
    'pools: a copy per pool, competing inside (40)': (
        pools_copy_and_compete, {'A1': 20, 'A2': 20, 'B1': 20, 'B2': 20}),
    'new pool sees only later; default queue buffers (5)': (
        new_pool_sees_only_later, {'pooled': 0, 'plain': 5}),
    'requeue stays in its pool': (requeue_stays_in_its_pool,
                                  {'A': 2, 'B': 1}),
    'JSON round trip, no shared objects': (mutation_and_json, {
        'caller': ['client'], 'returned': ['client', 'server'],
        'echoed': {'tuple': [1, 2], '1': 'int key',
                   'when': '2020-01-02T03:04:05.000000'},
        'tuple reply': [1, 2]}),
    'remote exceptions': (remote_exceptions, {
        'builtin': 'ValueError', 'custom': 'RemoteError(CustomError)',
        'timeout': 'RemoteError(MessagingTimeout)',
        'missing': 'RemoteError(NoSuchMethod)',
        'custom allowed': ('CustomError_Remote', {'code': 42})}),
    'call nobody answers': (call_nobody_times_out, 'MessagingTimeout'),
    'at_least_once to nobody': (at_least_once_to_nobody,
                                'MessageUndeliverable'),
    'call expires while its server is down; cast survives': (
        call_expires_while_server_is_down,
        {'call': 'MessagingTimeout', 'handled after restart': 1}),
    'cast to a topic nobody declared is dropped': (
        cast_before_any_server_is_dropped, 0),
}


def run(name, url):
    """Run scenario ``name`` on ``url``; return what it observed."""
    scenario, _ = SCENARIOS[name]
    harness = Harness(url)
    try:
        return scenario(harness)
    finally:
        harness.close()
