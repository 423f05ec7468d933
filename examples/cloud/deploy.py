"""Boot the whole cloud with nova_fixtures, in a few lines."""

import nova_fixtures

from examples.cloud import agent
from examples.cloud import api
from examples.cloud import compute
from examples.cloud import conductor
from examples.cloud import poller
from examples.cloud import scheduler

COMPUTES = {'cell1': ['c1', 'c2'], 'cell2': ['c3']}


class Cloud:
    """What a test gets: the deployment, its managers and the API's URL."""

    def __init__(self, deployment, computes, schedulers, agent_, poller_,
                 api_fixture):
        self.deployment = deployment
        self.computes = computes
        self.schedulers = schedulers
        self.agent = agent_
        self.poller = poller_
        self.api = api_fixture

    @property
    def url(self):
        return self.api.url


def boot(test, computes=COMPUTES):
    """Boot the cloud inside ``test`` (anything with ``useFixture``)."""
    cloud = test.useFixture(nova_fixtures.Deployment(cells=list(computes)))
    cell_buses = cloud.cells
    schedulers = [scheduler.SchedulerManager(f'sched-{i}') for i in (1, 2)]
    for manager in schedulers:
        cloud.service(manager, 'scheduler', manager.name)
    cloud.service(conductor.ConductorManager(cloud.api, cell_buses),
                  'conductor', 'super-conductor')
    managers = {}
    for cell, hosts in computes.items():
        for host in hosts:
            managers[host] = compute.ComputeManager(
                host, cell, cell_buses[cell], cloud.api)
            cloud.service(managers[host], 'compute', host, cell=cell)
    the_agent = agent.NotificationAgent()
    for cell in [None] + list(cell_buses):
        cloud.listener([the_agent], cell=cell, pool='agent')
    the_poller = poller.UsagePoller(cloud.api, cell_buses)
    cloud.service(the_poller, 'poller', 'poller-1')
    api_fixture = test.useFixture(nova_fixtures.WSGIServiceFixture(
        app_factory=lambda: api.make_app(cloud.api), name='api'))
    for manager in schedulers:
        if not manager.wait_for_hosts(len(managers)):
            raise RuntimeError(f'{manager.name} did not hear every compute')
    return Cloud(cloud, managers, schedulers, the_agent, the_poller,
                 api_fixture)
