"""The example suite's base test case: nova_fixtures.TestCase + the cloud."""

import json
import os
import uuid

import nova_fixtures

from examples.cloud import deploy


REAL_BROKER = not os.environ.get('OS_TEST_TRANSPORT_URL',
                                 'memory:').startswith('memory:')


class CloudTestCase(nova_fixtures.TestCase):
    """Boots the cloud; with DEMO_STATS_DIR set, records what it did.

    On ``memory://`` (the default) the suite runs on the virtual clock; on a
    real broker (``OS_TEST_TRANSPORT_URL``) in real time, and the tests
    that need memory:// fault injection or virtual time skip.
    """

    USE_TRANSPORT = False  # the Deployment brings its own buses
    # NOTE(example): timeouts, heartbeats and polls on virtual time; a real
    # broker answers in real time.
    USE_CLOCK = not REAL_BROKER
    # NOTE(example): DEMO_DETECT_DEADLOCKS=1 runs the suite under a
    # DeadlockFixture too (lock order, wait-for cycles).
    DETECT_DEADLOCKS = os.environ.get('DEMO_DETECT_DEADLOCKS') == '1'

    def setUp(self):
        super().setUp()
        self.cloud = deploy.boot(self)
        self.buses.extend(self.cloud_buses().values())  # for hang reports
        self.notes = {
            name: self.useFixture(nova_fixtures.NotificationFixture(bus))
            for name, bus in self.cloud_buses().items()}
        self.addCleanup(self._record_stats)

    def needs_memory_transport(self):
        if REAL_BROKER:
            self.skipTest('needs memory:// fault injection and the virtual '
                          'clock')

    def cloud_buses(self):
        deployment = self.cloud.deployment
        return {'api': deployment.api, **deployment.cells}

    def _record_stats(self):
        stats_dir = os.environ.get('DEMO_STATS_DIR')
        if not stats_dir:
            return
        stats = {
            'test': self.id(),
            'services': len(self.cloud.deployment.services) + 1,
            # NOTE(example): counted from the memory:// journals; a real
            # broker keeps none.
            'messages': None if REAL_BROKER else sum(
                bus.broker.journal.recorded
                for bus in self.cloud_buses().values()),
        }
        path = os.path.join(stats_dir, f'{uuid.uuid4().hex}.json')
        with open(path, 'w') as f:
            json.dump(stats, f)
