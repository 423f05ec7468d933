"""Boot and teardown of N services, and per-test overhead, old way vs new.

In one process and one run:

* new: ``nova_fixtures.ServiceFixture`` on a ``TransportFixture`` bus
  (``memory://``, prompt-stopping executor);
* Nova's way: ``fake:`` transport, ``get_rpc_server(executor='threading')``,
  futurist's workers with Nova's ``MAX_IDLE_FOR = 0.01`` test hack; and, for
  1 and 10 services only (each costs about a second), futurist's default.

Each service handles one call before teardown, so its workers exist. Also
the per-test overhead of ``nova_fixtures.TestCase`` (bus, thread-leak and
eventlet checks) against oslotest's ``BaseTestCase`` with a ``fake:``
transport set up and torn down as Nova's ``RPCFixture`` does.

Usage: ``python benchmarks/services_bench.py [--tests N]``.
"""

import argparse
import statistics
import sys
import time
import uuid

import fake_transport  # noqa: F401  (threading backend before oslo)

from futurist import _thread as futurist_thread
from oslo_config import cfg
import oslo_messaging
from oslo_messaging._drivers import impl_fake
from oslo_messaging import conffixture
from oslotest import base as oslotest_base
import testtools

import nova_fixtures

perf = time.perf_counter


class Manager:
    def ping(self, ctxt):
        return 'pong'


def new_way(count):
    bus = nova_fixtures.TransportFixture()
    bus.setUp()
    try:
        start = perf()
        services = [nova_fixtures.ServiceFixture(Manager(), 'svc', f'h{i}',
                                                 bus) for i in range(count)]
        for service in services:
            service.setUp()
        boot = perf() - start
        for i in range(count):
            bus.rpc_client('svc', server=f'h{i}').call({}, 'ping')
        start = perf()
        for service in services:
            service.cleanUp()
        teardown = perf() - start
    finally:
        bus.cleanUp()
    return boot, teardown


def nova_way(count, max_idle_for):
    saved = futurist_thread.ThreadWorker.MAX_IDLE_FOR
    futurist_thread.ThreadWorker.MAX_IDLE_FOR = max_idle_for
    conf = cfg.ConfigOpts()
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()
    transport = oslo_messaging.get_rpc_transport(conf, url='fake:')
    topic = f'svc-{uuid.uuid4().hex}'
    try:
        start = perf()
        servers = []
        for i in range(count):
            server = oslo_messaging.get_rpc_server(
                transport, oslo_messaging.Target(topic=topic, server=f'h{i}'),
                [Manager()], executor='threading')
            server.start()
            servers.append(server)
        boot = perf() - start
        for i in range(count):
            oslo_messaging.get_rpc_client(
                transport, oslo_messaging.Target(topic=topic, server=f'h{i}')
            ).call({}, 'ping')
        start = perf()
        for server in servers:
            server.stop()
            server.wait()
        teardown = perf() - start
    finally:
        transport.cleanup()
        impl_fake.FakeExchangeManager._exchanges = {}
        fixture.cleanUp()
        futurist_thread.ThreadWorker.MAX_IDLE_FOR = saved
    return boot, teardown


class NewTest(nova_fixtures.TestCase):
    def test_nothing(self):
        self.assertTrue(self.bus.url)


class NovaLikeTest(oslotest_base.BaseTestCase):
    def setUp(self):
        super().setUp()
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url='fake:')
        self.addCleanup(setattr, impl_fake.FakeExchangeManager,
                        '_exchanges', {})
        self.addCleanup(transport.cleanup)
        self.transport = transport

    def test_nothing(self):
        self.assertTrue(self.transport)


def per_test(case, count):
    times = []
    for _ in range(count):
        result = testtools.TestResult()
        start = perf()
        case('test_nothing').run(result)
        times.append(perf() - start)
        if not result.wasSuccessful():
            raise RuntimeError(result.errors + result.failures)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tests', type=int, default=200)
    args = parser.parse_args(argv)
    print(f"{'services':>8} {'new boot':>11} {'new stop':>11} "
          f"{'nova boot':>11} {'nova stop':>11} {'stop ratio':>11} "
          f"{'nova stop (futurist default)':>30}")
    for count in (1, 10, 100):
        boot, stop = new_way(count)
        nboot, nstop = nova_way(count, 0.01)
        default = ''
        if count <= 10:
            _, dstop = nova_way(count, 1)
            default = f'{dstop * 1e3:>9.1f} ms ({dstop / stop:,.0f}x)'
        print(f'{count:>8} {boot * 1e3:>8.1f} ms {stop * 1e3:>8.1f} ms '
              f'{nboot * 1e3:>8.1f} ms {nstop * 1e3:>8.1f} ms '
              f'{nstop / stop:>10.1f}x {default:>30}')
    new = per_test(NewTest, args.tests)
    old = per_test(NovaLikeTest, args.tests)
    print(f'per-test overhead: nova_fixtures.TestCase {new * 1e3:.2f} ms, '
          f'oslotest + fake: RPC set-up {old * 1e3:.2f} ms '
          f'(ratio {new / old:.2f}x)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
