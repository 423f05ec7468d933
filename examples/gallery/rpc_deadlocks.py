"""A gallery of deadlocks through RPC calls, and of call chains that are
none, for the deadlock detector (``DeadlockFixture``, issue 22).

Each scenario is a function of a *cloud* (anything with a ``bus``, a
``TransportFixture``) returning (manager, topic, host, max workers) for
each service to boot; the managers call each other on ``cloud.bus``. The
tests at the end run each one as a user would, on the clock with the
detector: the deadlocked ones fail with the detector's report, naming the
cycle the moment it forms::

    python -m testtools.run examples.gallery.rpc_deadlocks

The module is not named ``test*.py``: the example suite does not run it.
``tests/unit/nova_fixtures/test_rpc_deadlock.py`` asserts each report.
"""

import os
import threading

import nova_fixtures

_HERE = os.path.abspath(__file__).replace('.pyc', '.py')


def _line(marker):
    with open(_HERE) as source:
        for number, text in enumerate(source, 1):
            if text.rstrip().endswith(f'# {marker}'):
                # NOTE(gallery): reports name a file below its sys.path
                # entry; these run from the repository's root.
                return f'{os.path.relpath(_HERE)}:{number}'
    raise AssertionError(marker)


def client(cloud, topic):
    """An RPC client for ``topic`` on the cloud's bus; calls time out in
    30 s."""
    return cloud.bus.rpc_client(topic, timeout=30)


COLLECTOR_LOCK = _line('collector-lock')
CLOSE_TAKES_LOCK = _line('close-takes-lock')
CLOSE_CALLS = _line('close-calls')
TOTALS_TAKES_LOCK = _line('totals-takes-lock')
RATE_CALLS = _line('rate-calls')


class Collector:
    def __init__(self, cloud):
        self.cloud = cloud
        self._lock = threading.Lock()  # collector-lock

    def close_period(self, ctxt):
        with self._lock:  # close-takes-lock
            rater = client(self.cloud, 'rater')
            return rater.call(ctxt, 'rate')  # close-calls

    def get_totals(self, ctxt):
        with self._lock:  # totals-takes-lock
            return 42


class Rater:
    def __init__(self, cloud):
        self.cloud = cloud

    def rate(self, ctxt):
        collector = client(self.cloud, 'collector')
        return collector.call(ctxt, 'get_totals')  # rate-calls


def collector_and_rater(cloud):
    return [(Collector(cloud), 'collector', 'c1', None),
            (Rater(cloud), 'rater', 'r1', None)]


class Compute:
    def __init__(self, cloud):
        self.cloud = cloud

    def build(self, ctxt):
        client(self.cloud, 'conductor').call(ctxt, 'schedule')
        return 'built'

    def report(self, ctxt):
        return 'reported'


class Conductor:
    def __init__(self, cloud):
        self.cloud = cloud

    def schedule(self, ctxt):
        return client(self.cloud, 'compute').call(ctxt, 'report')


def compute_and_conductor(cloud):
    return [(Compute(cloud), 'compute', 'cp1', 1),
            (Conductor(cloud), 'conductor', 'k1', None)]


def compute_and_conductor_roomy(cloud):
    return [(Compute(cloud), 'compute', 'cp1', 8),
            (Conductor(cloud), 'conductor', 'k1', 8)]


class Relay:
    def __init__(self, cloud, to):
        self.cloud = cloud
        self.to = to

    def start(self, ctxt):
        return client(self.cloud, self.to).call(ctxt, 'relay')

    def relay(self, ctxt):
        return client(self.cloud, self.to).call(
            ctxt, 'finish' if self.to == 'a' else 'relay')

    def finish(self, ctxt):
        return 'done'


def three_service_ring(cloud):
    return [(Relay(cloud, 'b'), 'a', 'a', 1),
            (Relay(cloud, 'c'), 'b', 'b', None),
            (Relay(cloud, 'a'), 'c', 'c', None)]


class Watcher:
    """Told by a fanout cast, calls back into the sender's service."""

    def __init__(self, cloud):
        self.cloud = cloud

    def changed(self, ctxt):
        client(self.cloud, 'origin').call(ctxt, 'count')


class Origin:
    def __init__(self, cloud):
        self.cloud = cloud
        self.counted = 0
        self.done = threading.Event()

    def count(self, ctxt):
        self.counted += 1
        if self.counted == 3:
            self.done.set()

    def announce(self, ctxt):
        self.cloud.bus.rpc_client('watcher').prepare(fanout=True).cast(
            ctxt, 'changed')
        return 'announced'


def fanout_then_call_back(cloud):
    cloud.origin = Origin(cloud)
    return [(cloud.origin, 'origin', 'o1', 1)] + [
        (Watcher(cloud), 'watcher', f'w{i}', 1) for i in range(3)]


def fanout_body(cloud):
    client(cloud, 'origin').call({}, 'announce')
    cloud.origin.done.wait(60)
    return cloud.origin.counted


class GalleryTestCase(nova_fixtures.TestCase):
    """Boots a scenario's services on the clock, with the detector."""

    USE_CLOCK = True
    DETECT_DEADLOCKS = True

    def boot(self, scenario):
        for manager, topic, host, workers in scenario(self):
            self.start_service(manager, topic, host, max_workers=workers)

    def call(self, topic, method):
        return self.bus.rpc_client(topic, timeout=30).call({}, method)


class TestDeadlocked(GalleryTestCase):
    """Each test fails with the detector's report of its cycle."""

    def test_call_back_under_a_lock(self):
        self.boot(collector_and_rater)
        self.call('collector', 'close_period')

    def test_call_back_into_a_full_pool(self):
        self.boot(compute_and_conductor)
        self.call('compute', 'build')

    def test_three_service_ring(self):
        self.boot(three_service_ring)
        self.call('a', 'start')


class TestNoDeadlock(GalleryTestCase):
    """These pass: no cycle, no report."""

    def test_fanout_cast_then_call_back(self):
        self.boot(fanout_then_call_back)
        self.assertEqual(3, fanout_body(self))

    def test_nested_calls_with_room_in_every_pool(self):
        self.boot(compute_and_conductor_roomy)
        self.assertEqual('built', self.call('compute', 'build'))
