"""The example cloud, booted through the pytest plugin's fixtures."""

import os
import sys

import fixtures
import pytest

import nova_fixtures

# NOTE(pytest): the repository root, normalized, for ``examples``. The
# ini's ``pythonpath = ../..`` would put an unnormalized path first on
# sys.path, and a nova_fixtures imported through it would not recognise its
# own frames (lock classes would all be made "in clock.py").
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)

from examples.cloud import agent  # noqa: E402
from examples.cloud import api  # noqa: E402
from examples.cloud import compute  # noqa: E402
from examples.cloud import conductor  # noqa: E402
from examples.cloud import poller  # noqa: E402
from examples.cloud import scheduler  # noqa: E402

pytest_plugins = ['pytester']


@pytest.fixture
def inner(pytester):
    """Run a test file in a fresh pytest, in this process."""
    def run(source, *args):
        pytester.makepyfile(test_inner=source)
        # NOTE(pytest): the plugin is imported already, by this run.
        return pytester.runpytest(
            '-p', 'no:cacheprovider',
            '-W', 'ignore::pytest.PytestAssertRewriteWarning', *args)
    return run


COMPUTES = {'cell1': ['c1', 'c2'], 'cell2': ['c3']}


class Cloud:
    """What a test gets: the buses, the managers, the services, the API."""

    def __init__(self, api_bus, cells, services, schedulers, agent_,
                 notes, url):
        self.api_bus = api_bus
        self.cells = cells
        self.services = services
        self.schedulers = schedulers
        self.agent = agent_
        self.notes = notes
        self.url = url

    def service(self, host):
        return self.services[host]


@pytest.fixture
def cloud(clock, bus, make_bus, start_service):
    """The example cloud on the virtual clock: ``bus`` is the API bus."""
    cells = {cell: make_bus(name=cell) for cell in COMPUTES}
    schedulers = [scheduler.SchedulerManager(f'sched-{i}') for i in (1, 2)]
    services = {}
    for manager in schedulers:
        services[manager.name] = start_service(manager, 'scheduler',
                                               manager.name)
    services['super-conductor'] = start_service(
        conductor.ConductorManager(bus, cells), 'conductor',
        'super-conductor')
    for cell, hosts in COMPUTES.items():
        for host in hosts:
            services[host] = start_service(
                compute.ComputeManager(host, cell, cells[cell], bus),
                'compute', host, bus=cells[cell])
    services['poller-1'] = start_service(poller.UsagePoller(bus, cells),
                                         'poller', 'poller-1')
    # NOTE(pytest): what the plugin has no fixture for is used the pytest
    # way, set up here and cleaned up after the test, before the buses.
    extras = fixtures.Fixture()
    extras.setUp()
    try:
        the_agent = agent.NotificationAgent()
        buses = {'api': bus, **cells}
        for each in buses.values():
            extras.useFixture(nova_fixtures.NotificationListenerFixture(
                [the_agent], each, pool='agent'))
        notes = {name: extras.useFixture(
            nova_fixtures.NotificationFixture(each))
            for name, each in buses.items()}
        wsgi = extras.useFixture(nova_fixtures.WSGIServiceFixture(
            app_factory=lambda: api.make_app(bus), name='api'))
        for manager in schedulers:
            assert manager.wait_for_hosts(3), \
                f'{manager.name} did not hear every compute'
        yield Cloud(bus, cells, services, schedulers, the_agent, notes,
                    wsgi.url)
    finally:
        extras.cleanUp()
