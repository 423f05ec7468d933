"""Services whose RPC calls deadlock, or don't, for test_rpc_deadlock.

Each scenario is a function of the `Cloud` fixture returning (manager,
topic, host, max workers) for each service to boot; managers call each
other through ``cloud.client(topic)``.
"""

import os
import threading

_HERE = os.path.abspath(__file__).replace('.pyc', '.py')


def _line(marker):
    with open(_HERE) as source:
        for number, text in enumerate(source, 1):
            if text.rstrip().endswith(f'# {marker}'):
                return f'{_HERE}:{number}'
    raise AssertionError(marker)


COLLECTOR_LOCK = _line('collector-lock')
CLOSE_TAKES_LOCK = _line('close-takes-lock')


class Collector:
    def __init__(self, cloud):
        self.cloud = cloud
        self._lock = threading.Lock()  # collector-lock

    def close_period(self, ctxt):
        with self._lock:  # close-takes-lock
            return self.cloud.client('rater').call(ctxt, 'rate')

    def get_totals(self, ctxt):
        with self._lock:
            return 42


class Rater:
    def __init__(self, cloud):
        self.cloud = cloud

    def rate(self, ctxt):
        return self.cloud.client('collector').call(ctxt, 'get_totals')


def collector_and_rater(cloud):
    return [(Collector(cloud), 'collector', 'c1', None),
            (Rater(cloud), 'rater', 'r1', None)]


class Compute:
    def __init__(self, cloud):
        self.cloud = cloud

    def build(self, ctxt):
        self.cloud.client('conductor').call(ctxt, 'schedule')
        return 'built'

    def report(self, ctxt):
        return 'reported'


class Conductor:
    def __init__(self, cloud):
        self.cloud = cloud

    def schedule(self, ctxt):
        return self.cloud.client('compute').call(ctxt, 'report')


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
        return self.cloud.client(self.to).call(ctxt, 'relay')

    def relay(self, ctxt):
        return self.cloud.client(self.to).call(
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
        self.cloud.client('origin').call(ctxt, 'count')


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
    cloud.client('origin').call({}, 'announce')
    cloud.origin.done.wait(60)
    return cloud.origin.counted
