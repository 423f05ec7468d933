"""Four seeded concurrency bugs, each failing in fewer than 1 in 100 plain
runs; ``python -m nova_fixtures.hunt <test id>`` finds each in a few seeds.

Not named ``test*.py``: the example suite leaves them out.
"""

import uuid

import nova_fixtures

from examples.gallery import services


class GalleryTestCase(nova_fixtures.TestCase):
    USE_CLOCK = True


class TestResizeDeadlock(GalleryTestCase):
    """AB/BA across two services: the conductor takes the tracker's lock
    then the instance's, the compute the other way round."""

    def test_confirm_and_update_both_finish(self):
        ledger = services.Ledger()
        self.start_service(services.ResizeConductor(ledger), 'conductor',
                           'conductor-1')
        self.start_service(services.UsageCompute(ledger), 'compute',
                           'compute-1')
        self.bus.rpc_client('conductor').cast({}, 'confirm_resize')
        self.bus.rpc_client('compute', 'compute-1').cast({}, 'update_usage')
        for _ in range(2):
            self.assertTrue(ledger.done.acquire(timeout=10),
                            f'deadlock: only {ledger.finished} finished')


class TestLostWakeup(GalleryTestCase):
    """The build's notify comes between the waiter's look at the flag and
    its wait."""

    def test_waiter_sees_the_build(self):
        tracker = services.BuildTracker()
        self.start_service(tracker, 'compute', 'compute-1')
        self.bus.rpc_client('compute', 'compute-1').cast({}, 'build')
        self.assertTrue(tracker.wait_built(timeout=10),
                        'the build finished but its wakeup was lost')


class TestDuplicateName(GalleryTestCase):
    """Check-then-act on a shared dict across two RPC handlers."""

    def test_one_name_one_server(self):
        registry = services.NameRegistry()
        self.start_service(registry, 'conductor', 'conductor-1')
        client = self.bus.rpc_client('conductor')
        ids = [uuid.uuid4().hex for _ in range(2)]
        for server_id in ids:
            client.cast({}, 'create', name='web', server_id=server_id)
        for _ in ids:
            self.assertTrue(registry.done.acquire(timeout=10))
        created = [i for outcome, i in registry.outcomes
                   if outcome == 'created']
        self.assertEqual(1, len(created),
                         f'the name "web" was given to {len(created)} '
                         f'servers: {registry.outcomes}')


class TestStaleReport(GalleryTestCase):
    """In the example cloud: a compute's heartbeat (a fanout of its free
    slots) and a build (a cast) on a one-slot compute, which reports too;
    the heartbeat's older count can reach the scheduler last and leave it
    believing in room."""

    def test_scheduler_sees_a_full_compute(self):
        buses = self.useFixture(nova_fixtures.Deployment(cells=['cell1']))
        sched = services.CountingScheduler('sched-1')
        buses.service(sched, 'scheduler', 'sched-1')
        compute = services.ReportingCompute('c1', 'cell1',
                                            buses.cells['cell1'], buses.api,
                                            slots=1)
        buses.service(compute, 'compute', 'c1', cell='cell1',
                      periodic=False)
        sched.hosts['c1'] = {'cell': 'cell1', 'free': 1}
        client = buses.cells['cell1'].rpc_client('compute', 'c1')
        client.cast({}, 'report')
        client.cast({}, 'build', server_id='vm-0', name='vm-0')
        self.assertTrue(compute.builds.acquire(timeout=10))
        for _ in range(2):
            self.assertTrue(sched.reports.acquire(timeout=10))
        self.assertEqual(0, sched.hosts['c1']['free'],
                         'an older report of free slots reached the '
                         'scheduler last: it would place a second server on '
                         'the full compute')
