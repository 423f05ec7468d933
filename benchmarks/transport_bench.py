"""memory:// against oslo.messaging's fake: driver, in one process and run.

Measures, for each transport: RPC call round trip (median, p95), cast sent
to handled, fanout to 3 servers (sent to all handled), and, as a floor, two
``queue.SimpleQueue`` handoffs between two threads (what any in-process
request/reply must cost at least). Prints the figures and the ratios the
targets are stated in:

* call median, fake: / memory://: at least 100
* call median, memory:// / floor: at most 3

Usage: ``python benchmarks/transport_bench.py [--calls N] [--fake-calls N]``
(``tox -e bench``).
"""

import argparse
import queue
import statistics
import sys
import threading
import time
import uuid

import fake_transport  # noqa: F401  (threading backend before oslo)

from futurist import _thread as futurist_thread
from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture

perf = time.perf_counter


class Endpoint:
    def __init__(self):
        self.handled = queue.SimpleQueue()

    def ping(self, ctxt, value):
        return value

    def stamp(self, ctxt, sent):
        self.handled.put(perf())


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def measure(url, calls, casts):
    conf = cfg.ConfigOpts()
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    topic = f'bench-{uuid.uuid4().hex}'
    servers, endpoints = [], []
    for i in range(3):
        endpoint = Endpoint()
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server=f's{i}'),
            [endpoint], executor='threading')
        server.start()
        servers.append(server)
        endpoints.append(endpoint)
    try:
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=topic, server='s0'))
        client.call({}, 'ping', value=0)  # warm up
        call_times = []
        for i in range(calls):
            start = perf()
            client.call({}, 'ping', value=i)
            call_times.append(perf() - start)
        cast_times = []
        for i in range(casts):
            start = perf()
            client.cast({}, 'stamp', sent=start)
            cast_times.append(endpoints[0].handled.get(timeout=60) - start)
        fanout = client.prepare(fanout=True, server=None)
        fanout_times = []
        for i in range(casts):
            start = perf()
            fanout.cast({}, 'stamp', sent=start)
            last = max(e.handled.get(timeout=60) for e in endpoints)
            fanout_times.append(last - start)
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        transport.cleanup()
        fixture.cleanUp()
    return {
        'call median': statistics.median(call_times),
        'call p95': pct(call_times, 0.95),
        'cast->handled median': statistics.median(cast_times),
        'fanout x3 median': statistics.median(fanout_times),
    }


def driver_round_trip(url, rounds):
    """Median call through the driver alone: send, listener, worker, reply.

    The same two thread handoffs as the floor (caller to a worker thread
    and back), without oslo.messaging's RPCClient, RPCServer, dispatcher
    and futurist executor around them: the part a transport controls.
    """
    conf = cfg.ConfigOpts()
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    driver = transport._driver
    target = oslo_messaging.Target(topic='driver-bench', server='s')
    work = queue.SimpleQueue()

    def worker():
        while True:
            incoming = work.get()
            if incoming is None:
                return
            incoming.acknowledge()
            incoming.reply(incoming.message['args']['value'])

    thread = threading.Thread(target=worker)
    thread.start()
    listener = driver.listen(target, 1, None)
    listener.start(lambda batch: work.put(batch[0]))
    times = []
    try:
        for i in range(rounds):
            message = {'method': 'ping', 'args': {'value': i}}
            start = perf()
            driver.send(target, {}, message, wait_for_reply=True, timeout=60)
            times.append(perf() - start)
    finally:
        listener.cleanup()
        work.put(None)
        thread.join()
        transport.cleanup()
        fixture.cleanUp()
    return statistics.median(times)


def handoff_floor(rounds):
    """Median of a request and a reply through two SimpleQueues."""
    requests, replies = queue.SimpleQueue(), queue.SimpleQueue()

    def echo():
        while True:
            item = requests.get()
            if item is None:
                return
            replies.put(item)

    worker = threading.Thread(target=echo)
    worker.start()
    times = []
    for i in range(rounds):
        start = perf()
        requests.put(i)
        replies.get()
        times.append(perf() - start)
    requests.put(None)
    worker.join()
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=2000)
    parser.add_argument('--fake-calls', type=int, default=60)
    args = parser.parse_args(argv)
    # NOTE(bench): futurist idle workers otherwise take 1 s to stop; this
    # affects teardown only, not the figures.
    futurist_thread.ThreadWorker.MAX_IDLE_FOR = 0.01

    floor = handoff_floor(args.calls)
    driver_only = driver_round_trip(f'memory://bench-{uuid.uuid4().hex}/',
                                    args.calls)
    memory = measure(f'memory://bench-{uuid.uuid4().hex}/', args.calls,
                     args.calls // 4)
    fake = measure('fake:', args.fake_calls, args.fake_calls // 2)

    print(f"{'metric':<24}{'memory://':>14}{'fake:':>14}{'fake/memory':>14}")
    for key in memory:
        print(f'{key:<24}{memory[key] * 1e3:>11.3f} ms{fake[key] * 1e3:>11.3f}'
              f' ms{fake[key] / memory[key]:>13.1f}x')
    print(f"{'driver round trip':<24}{driver_only * 1e3:>11.3f} ms")
    print(f"{'handoff floor median':<24}{floor * 1e3:>11.3f} ms")
    speedup = fake['call median'] / memory['call median']
    to_floor = memory['call median'] / floor
    print(f'call median speed-up over fake:   {speedup:.1f}x '
          f'(target >= 100x: {"met" if speedup >= 100 else "MISSED"})')
    print(f'call median / handoff floor:      {to_floor:.2f}x '
          f'(target <= 3x: {"met" if to_floor <= 3 else "MISSED"})')
    driver_to_floor = driver_only / floor
    print(f'driver round trip / floor:        {driver_to_floor:.2f}x '
          f'(the transport\'s own share; target <= 3x: '
          f'{"met" if driver_to_floor <= 3 else "MISSED"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
