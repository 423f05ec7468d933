"""Deployment and TestCase."""

import threading

import testtools

import nova_fixtures


class Host:
    def __init__(self, name):
        self.name = name
        self.pings = 0

    def ping(self, ctxt):
        self.pings += 1
        return self.name


class TestDeployment(testtools.TestCase):

    def test_cells_have_isolated_buses_and_services_their_own_hosts(self):
        cloud = self.useFixture(nova_fixtures.Deployment(
            cells=['cell1', 'cell2']))
        cloud.service(Host('conductor'), 'conductor', 'super')
        cloud.service(Host('c1'), 'compute', 'c1', cell='cell1')
        cloud.service(Host('c2'), 'compute', 'c2', cell='cell2')
        self.assertEqual('c1', cloud.bus('cell1').rpc_client(
            'compute').call({}, 'ping'))
        self.assertEqual('c2', cloud.bus('cell2').rpc_client(
            'compute').call({}, 'ping'))
        self.assertEqual(['super', 'c1', 'c2'],
                         [s.host for s in cloud.services])
        self.assertEqual('c1', cloud.services[1].conf.host)
        cloud.settle()

    def test_unknown_cell_is_refused(self):
        cloud = self.useFixture(nova_fixtures.Deployment(cells=['cell1']))
        error = self.assertRaises(ValueError, cloud.bus, 'cell9')
        self.assertEqual("no cell 'cell9' in this deployment; cells: cell1",
                         str(error))

    def test_repeated_cell_names_are_refused(self):
        error = self.assertRaises(ValueError, nova_fixtures.Deployment,
                                  cells=['a', 'a'])
        self.assertEqual("cell names repeat: ['a', 'a']", str(error))


class TestStopErrors(testtools.TestCase):
    """Issue 10 item 7: a stop() that raised was lost in its thread."""

    def test_cleanup_raises_what_each_stop_raised(self):
        cloud = nova_fixtures.Deployment(cells=['cell1'])
        cloud.setUp()
        first = cloud.service(Host('c1'), 'compute', 'c1', cell='cell1')
        second = cloud.service(Host('c2'), 'compute', 'c2', cell='cell1')
        for service in (first, second):
            real_stop = service.stop

            def stop(real_stop=real_stop, host=service.host):
                real_stop()
                raise RuntimeError(f'{host} would not stop')

            service.stop = stop
        error = self.assertRaises(nova_fixtures.StopErrors, cloud.cleanUp)
        self.assertEqual(['c1 would not stop', 'c2 would not stop'],
                         sorted(str(e) for e in error.errors))
        self.assertEqual(
            '2 services or listeners failed to stop: RuntimeError: c1 would '
            'not stop; RuntimeError: c2 would not stop', str(error))

    def test_one_failure_is_raised_as_it_is(self):
        cloud = nova_fixtures.Deployment(cells=['cell1'])
        cloud.setUp()
        service = cloud.service(Host('c1'), 'compute', 'c1', cell='cell1')
        real_stop = service.stop

        def stop():
            real_stop()
            raise ValueError('stuck')

        service.stop = stop
        error = self.assertRaises(ValueError, cloud.cleanUp)
        self.assertEqual('stuck', str(error))


class TestTestCase(testtools.TestCase):

    def run_inner(self, body, **class_attrs):
        inner_cls = type('Inner', (nova_fixtures.TestCase,),
                         dict(test_body=body, **class_attrs))
        test = inner_cls('test_body')
        result = testtools.TestResult()
        test.run(result)
        return test, result

    def test_defaults_give_a_bus_and_catch_leaked_threads(self):
        release = threading.Event()
        threads = []

        def body(test):
            test.assertTrue(test.bus.url.startswith('memory://test-'))
            thread = threading.Thread(target=release.wait, name='leaky')
            thread.start()
            threads.append(thread)
            test.thread_leaks.grace = 0.01

        _, result = self.run_inner(body)
        release.set()
        threads[0].join()
        self.assertEqual(1, len(result.failures))
        self.assertIn("ThreadLeak: 1 thread(s) left running: 'leaky'",
                      result.failures[0][1])

    def test_each_default_can_be_turned_off(self):
        def body(test):
            test.assertFalse(hasattr(test, 'bus'))
            test.assertFalse(hasattr(test, 'thread_leaks'))

        _, result = self.run_inner(body, USE_TRANSPORT=False,
                                   CHECK_THREAD_LEAKS=False,
                                   FORBID_EVENTLET=False)
        self.assertTrue(result.wasSuccessful(), result.errors +
                        result.failures)

    def test_fail_on_unconsumed(self):
        def body(test):
            test.start_service(Host('h'), 'hosts', 'h').stop()
            test.bus.rpc_client('hosts', server='h').cast({}, 'ping')

        _, result = self.run_inner(body, FAIL_ON_UNCONSUMED=True)
        self.assertEqual(1, len(result.failures))
        self.assertIn('TransportLeftovers: 1 message(s) left unconsumed',
                      result.failures[0][1])


class TestTestCaseOptions(testtools.TestCase):
    """Issue 11 item 6: the fixtures' arguments, from class attributes."""

    def test_options_reach_the_fixtures_the_class_builds(self):
        seen = {}

        class Test(nova_fixtures.TestCase):
            USE_CLOCK = True
            DETECT_DEADLOCKS = True
            CLOCK_OPTIONS = {'max_virtual': 86400}
            DEADLOCK_OPTIONS = {'on_inversion': 'record'}
            TRANSPORT_OPTIONS = {'journal_limit': 3}

            def test_it(self):
                import time
                time.sleep(7200)  # allow-sleep: virtual time
                seen['now'] = self.clock.now()
                seen['mode'] = self.deadlocks.on_inversion
                seen['limit'] = self.bus.broker.journal.limit

        result = testtools.TestResult()
        Test('test_it').run(result)
        self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertEqual({'now': 7200, 'mode': 'record', 'limit': 3}, seen)
