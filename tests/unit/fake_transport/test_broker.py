"""The Broker: journal, settle, unconsumed, reset, faults, concurrency."""

import collections
import sys
import threading

import fixtures
import oslo_messaging

import fake_transport
import nova_fixtures
from tests.unit.fake_transport import base


class TestJournal(base.BusTestCase):

    def test_journal_records_kind_address_method_sender_and_outcome(self):
        self.start_server(server='s')
        self.client().prepare(server='s').call({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        call, reply = self.broker.journal.entries()
        self.assertEqual(
            ('call', 'openstack', 'topic', 's', 'echo',
             threading.current_thread().name, 'topic.s', 'handled'),
            (call.kind, call.exchange, call.topic, call.server, call.method,
             call.sender, call.queue, call.outcome))
        self.assertEqual(('reply', 's', call.msg_id, 'delivered'),
                         (reply.kind, reply.sender, reply.msg_id,
                          reply.outcome))

    def test_message_sent_from_a_handler_names_that_server(self):
        class Relay:
            def __init__(self, client):
                self.client = client

            def relay(self, ctxt):
                return self.client.call(ctxt, 'whoami')

        self.start_server(topic='back', server='backend')
        self.start_server(topic='front', server='frontend',
                          endpoint=Relay(self.client(topic='back')))
        self.assertEqual('backend',
                         self.client(topic='front').call({}, 'relay'))
        inner = self.broker.journal.entries(topic='back', kind='call')[0]
        self.assertEqual('frontend', inner.sender)

    def test_journal_renders_one_line_per_entry(self):
        self.client(topic='nobody').cast({}, 'echo', value=1)
        self.assertEqual(
            f'#1 [+0.000 s real] cast echo to openstack/nobody from '
            f'{threading.current_thread().name}: unroutable',
            self.broker.journal.render())


class TestSettle(base.BusTestCase):

    def test_settle_waits_for_handlers_to_finish(self):
        endpoint = base.Recorder()
        endpoint.release = threading.Event()
        self.start_server(endpoint=endpoint)
        self.client().cast({}, 'wait_for', event_name='release')
        self.assertTrue(endpoint.arrived.wait(10))
        self.assertEqual(['cast'],
                         [e.kind for e in self.broker.in_flight()])
        endpoint.release.set()
        self.broker.settle(timeout=10)
        self.assertEqual([], self.broker.in_flight())
        self.assertEqual('handled',
                         self.broker.journal.entries()[0].outcome)

    def test_settle_timeout_lists_what_is_in_flight(self):
        endpoint = base.Recorder()
        endpoint.release = threading.Event()
        self.start_server(endpoint=endpoint)
        self.addCleanup(endpoint.release.set)
        self.client().cast({}, 'wait_for', event_name='release')
        self.assertTrue(endpoint.arrived.wait(10))
        error = self.assertRaises(fake_transport.SettleTimeout,
                                  self.broker.settle, timeout=0.01)
        self.assertEqual(
            f"memory://{self.broker.name}/ did not settle within 0.01 s; "
            f"1 message(s) still in flight:\n"
            f"  #1 cast wait_for to openstack/topic from "
            f"{threading.current_thread().name}: delivered", str(error))

    def test_settle_from_a_handler_is_refused(self):
        broker = self.broker
        errors = []

        class Settler:
            def settle(self, ctxt):
                try:
                    broker.settle(timeout=1)
                except RuntimeError as exc:
                    errors.append(str(exc))

        self.start_server(endpoint=Settler())
        self.client().call({}, 'settle')
        self.assertEqual(
            ["settle() called from a message handler would wait for "
             "itself; call it from the test thread"], errors)


class TestUnconsumedAndReset(base.BusTestCase):

    def test_unconsumed_lists_messages_waiting_for_a_consumer(self):
        _, server = self.start_server(server='s')
        server.stop()
        server.wait()
        client = self.client().prepare(server='s')
        client.cast({}, 'echo', value=1)
        client.cast({}, 'echo', value=2)
        self.assertEqual([('cast', 'topic.s'), ('cast', 'topic.s')],
                         [(e.kind, e.queue) for e in
                          self.broker.unconsumed()])
        self.assertEqual(2, self.broker.queues()['topic.s'])

    def test_reset_empties_queues_journal_and_faults(self):
        _, server = self.start_server(server='s')
        server.stop()
        server.wait()
        self.client().prepare(server='s').cast({}, 'echo', value=1)
        self.broker.drop(topic='other')
        self.broker.take_down('s')
        self.broker.reset()
        self.assertEqual([], self.broker.unconsumed())
        self.assertEqual(0, len(self.broker.journal))
        self.assertEqual({}, self.broker.queues())
        endpoint, _ = self.start_server(topic='other', server='s')
        self.client(topic='other').call({}, 'echo', value=2)
        self.assertEqual(1, len(endpoint.calls))

    def test_reset_keeps_live_listeners_working(self):
        endpoint, _ = self.start_server()
        self.broker.reset()
        self.assertEqual('host', self.client().call({}, 'whoami'))


class TestFaults(base.BusTestCase):

    def test_drop_loses_matching_messages_only(self):
        endpoint, _ = self.start_server()
        fault = self.broker.drop(method='echo', times=1)
        client = self.client()
        client.cast({}, 'echo', value='lost')
        client.cast({}, 'echo', value='kept')
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 'kept'})], endpoint.calls)
        self.assertEqual(1, fault.hits)
        self.assertEqual(['dropped', 'handled'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_dropped_call_times_out(self):
        self.start_server()
        self.broker.drop(kind='call')
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          self.client(timeout=0.05).call, {}, 'echo')

    def test_dropped_reply_makes_the_call_time_out(self):
        # NOTE(tests): on the clock, the call's 0.05 s pass only once the
        # server has handled it, however loaded the machine.
        self.useFixture(nova_fixtures.ClockFixture())
        endpoint, _ = self.start_server()
        self.broker.drop(kind='reply')
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          self.client(timeout=0.05).call, {}, 'echo')
        self.assertEqual(1, len(endpoint.calls))

    def test_fail_raises_at_send(self):
        fault = self.broker.fail(topic='topic')
        error = self.assertRaises(
            oslo_messaging.MessageDeliveryFailure,
            self.client().cast, {}, 'echo')
        self.assertEqual('fault injected: cast to openstack/topic failed',
                         str(error))
        fault.remove()
        self.client().cast({}, 'echo')
        self.assertEqual(['failed', 'unroutable'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_duplicate_is_dropped_by_one_server_processed_by_two(self):
        only, _ = self.start_server(topic='one', server='a')
        self.broker.duplicate(times=1)
        self.client(topic='one').cast({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        self.assertEqual(1, len(only.calls))
        self.assertEqual(['handled', 'duplicate'],
                         [e.outcome for e in self.broker.journal.entries()])

        first, _ = self.start_server(topic='two', server='b')
        second, _ = self.start_server(topic='two', server='c')
        self.broker.duplicate(times=1)
        self.client(topic='two').cast({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        self.assertEqual((1, 1), (len(first.calls), len(second.calls)))

    def test_delay_holds_messages_and_settle_waits_for_them(self):
        endpoint, _ = self.start_server()
        self.broker.delay(0.01, method='echo')
        self.client().cast({}, 'echo', value=1)
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})], endpoint.calls)
        self.assertEqual(['delayed', 'handled'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_bad_fault_rules_are_refused_with_exact_errors(self):
        error = self.assertRaises(ValueError, self.broker.add_fault,
                                  'explode')
        self.assertEqual("unknown fault action 'explode'; expected one of "
                         "drop, delay, duplicate, fail", str(error))
        error = self.assertRaises(ValueError, self.broker.drop, colour='red')
        self.assertEqual("unknown fault match field 'colour'; expected one "
                         "of kind, exchange, topic, server, method, sender",
                         str(error))
        error = self.assertRaises(ValueError, self.broker.delay, -1)
        self.assertEqual("a delay must be a finite number of seconds >= 0, "
                         "got -1", str(error))


class TestServersDownAndPartitions(base.BusTestCase):

    def test_round_robin_skips_a_server_that_is_down(self):
        a, _ = self.start_server(server='a')
        b, _ = self.start_server(server='b')
        self.broker.take_down('a')
        client = self.client()
        for i in range(4):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        self.assertEqual((0, 4), (len(a.calls), len(b.calls)))

    def test_messages_for_a_down_server_flow_when_it_comes_back(self):
        endpoint, _ = self.start_server(server='a')
        self.broker.take_down('a')
        self.client().prepare(server='a').cast({}, 'echo', value=1)
        self.assertEqual(1, len(self.broker.unconsumed()))
        self.broker.bring_up('a')
        self.broker.settle(timeout=10)
        self.assertEqual(1, len(endpoint.calls))

    def test_partition_cuts_messages_between_groups_until_healed(self):
        class Relay:
            def __init__(self, client):
                self.client = client

            def relay(self, ctxt):
                self.client.cast(ctxt, 'echo', value='relayed')

        far, _ = self.start_server(topic='far', server='cell2-compute')
        self.start_server(topic='near', server='conductor',
                          endpoint=Relay(self.client(topic='far')))
        self.broker.partition(['conductor'], ['cell2-compute'])
        self.client(topic='near').call({}, 'relay')
        self.broker.settle(timeout=10)
        self.assertEqual([], far.calls)
        self.assertEqual(['conductor'],
                         [e.sender for e in self.broker.unconsumed()])
        self.broker.heal()
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 'relayed'})], far.calls)

    def test_partition_with_a_server_on_both_sides_is_refused(self):
        error = self.assertRaises(ValueError, self.broker.partition,
                                  ['a', 'b'], ['b'])
        self.assertEqual("a server can't be on both sides of a partition: b",
                         str(error))


class TestConcurrency(base.BusTestCase):

    def test_many_senders_and_servers_lose_and_duplicate_nothing(self):
        servers = [self.start_server(server=f's{i}')[0] for i in range(4)]
        client = self.client()
        barrier = threading.Barrier(8)
        errors = []

        def send(sender):
            barrier.wait()
            try:
                for i in range(50):
                    if i % 2:
                        client.cast({}, 'echo', value=f'{sender}-{i}')
                    else:
                        client.call({}, 'echo', value=f'{sender}-{i}')
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(n,))
                   for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.broker.settle(timeout=30)
        self.assertEqual([], errors)
        seen = collections.Counter(
            kwargs['value'] for s in servers for _, kwargs in s.calls)
        self.assertEqual(400, len(seen))
        self.assertEqual({1}, set(seen.values()))
        self.assertEqual([100, 100, 100, 100],
                         [len(s.calls) for s in servers])


class Refuser:
    """A consumer that refuses every message it is offered."""

    server = None

    def __init__(self):
        self.offers = 0

    def deliver(self, env):
        self.offers += 1
        return False


class TestRefusedDelivery(base.BusTestCase):

    def test_refused_message_waits_in_its_queue_for_the_next_consumer(self):
        self.broker.declare('topic', 'openstack', 'topic')
        refuser = Refuser()
        self.broker.attach('topic', refuser)
        self.client().cast({}, 'echo', value=1)
        self.assertEqual(1, refuser.offers)
        self.assertEqual([('cast', 'topic', 'queued')],
                         [(e.kind, e.queue, e.outcome)
                          for e in self.broker.unconsumed()])
        self.broker.settle(timeout=10)
        self.broker.detach('topic', refuser)
        endpoint, _ = self.start_server()
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})], endpoint.calls)
        self.assertEqual(['handled'],
                         [e.outcome for e in self.broker.journal.entries()])

    def test_refused_message_goes_to_another_consumer_of_its_queue(self):
        refuser = Refuser()
        self.broker.declare('topic', 'openstack', 'topic')
        self.broker.attach('topic', refuser)
        endpoint, _ = self.start_server()
        client = self.client()
        for i in range(3):
            client.cast({}, 'echo', value=i)
        self.broker.settle(timeout=10)
        # NOTE(tests): the server's workers handle the casts concurrently,
        # so they are recorded in any order (seen as [1, 0, 2] under load).
        self.assertEqual([0, 1, 2],
                         sorted(kw['value'] for _, kw in endpoint.calls))
        self.assertEqual([], self.broker.unconsumed())


class TestDelayedMessages(base.BusTestCase):

    def test_delayed_message_stays_in_flight_until_it_is_routed(self):
        endpoint, _ = self.start_server()
        routing = threading.Event()
        release = threading.Event()
        self.addCleanup(release.set)
        route = self.broker._route

        def slow_route(*args, **kwargs):
            if threading.current_thread().name.startswith(
                    'fake-transport-delay-'):
                routing.set()
                release.wait(10)
            return route(*args, **kwargs)

        self.useFixture(fixtures.MockPatchObject(
            self.broker, '_route', new=slow_route))
        self.broker.delay(0.01, method='echo')
        self.client().cast({}, 'echo', value=1)
        self.assertTrue(routing.wait(10))
        self.assertEqual([('cast', 'delayed')],
                         [(e.kind, e.outcome)
                          for e in self.broker.in_flight()])
        error = self.assertRaises(fake_transport.SettleTimeout,
                                  self.broker.settle, timeout=0.01)
        self.assertEqual(
            f"memory://{self.broker.name}/ did not settle within 0.01 s; "
            f"1 message(s) still in flight:\n"
            f"  #1 cast echo to openstack/topic from "
            f"{threading.current_thread().name}: delayed", str(error))
        release.set()
        self.broker.settle(timeout=10)
        self.assertEqual([('echo', {'value': 1})], endpoint.calls)


class TestStress(base.BusTestCase):

    SENDERS = 16
    PER_SENDER = 60

    def test_journal_matches_handlers_while_listeners_restart(self):
        # NOTE(tests): bounded (about two seconds): 16 threads send casts
        # and calls at a tiny switch interval while the servers of the
        # topic stop and start one after another; every message must be
        # handled once, and journalled once as handled, and each reply's
        # outcome must be what its caller saw.
        self.broker.journal.limit = None
        servers = [self.start_server(server=f's{i}') for i in range(4)]
        client = self.client(timeout=30)
        interval = sys.getswitchinterval()
        self.addCleanup(sys.setswitchinterval, interval)
        barrier = threading.Barrier(self.SENDERS + 1)
        sending_done = threading.Event()
        lock = threading.Lock()
        answered, timed_out, errors = [], [], []

        def send(sender):
            barrier.wait()
            try:
                for i in range(self.PER_SENDER):
                    value = f'{sender}-{i}'
                    if i % 2:
                        client.cast({}, 'echo', value=value)
                        continue
                    try:
                        answer = client.call({}, 'echo', value=value)
                    except oslo_messaging.MessagingTimeout:
                        with lock:
                            timed_out.append(value)
                    else:
                        with lock:
                            answered.append((value, answer))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def churn():
            barrier.wait()
            restarts = 0
            while not sending_done.is_set():
                _, server = servers[restarts % len(servers)]
                server.stop()
                server.wait()
                server.start()
                restarts += 1
            churned.append(restarts)

        churned = []
        threads = [threading.Thread(target=send, args=(n,))
                   for n in range(self.SENDERS)]
        churner = threading.Thread(target=churn)
        sys.setswitchinterval(1e-5)
        for thread in threads + [churner]:
            thread.start()
        for thread in threads:
            thread.join()
        sending_done.set()
        churner.join()
        sys.setswitchinterval(interval)
        self.broker.settle(timeout=30)

        sent = self.SENDERS * self.PER_SENDER
        casts = calls = sent // 2
        self.assertEqual([], errors)
        self.assertNotEqual([0], churned)
        handled = collections.Counter(
            (method, kwargs['value'])
            for endpoint, _ in servers for method, kwargs in endpoint.calls)
        self.assertEqual(sent, len(handled))
        self.assertEqual({1}, set(handled.values()))
        self.assertEqual([], [(value, answer) for value, answer in answered
                              if value != answer])
        self.assertEqual(calls, len(answered) + len(timed_out))
        self.assertEqual([], self.broker.unconsumed())
        journal = self.broker.journal
        self.assertEqual({'handled': casts}, journal.counts(kind='cast'))
        self.assertEqual({'handled': calls}, journal.counts(kind='call'))
        replies = {'delivered': len(answered),
                   'caller-timed-out': len(timed_out)}
        self.assertEqual({k: n for k, n in replies.items() if n},
                         journal.counts(kind='reply'))
        call_ids = [e.msg_id for e in journal.entries(kind='call')]
        reply_ids = [e.msg_id for e in journal.entries(kind='reply')]
        self.assertEqual(calls, len(set(call_ids)))
        self.assertEqual(sorted(call_ids), sorted(reply_ids))
