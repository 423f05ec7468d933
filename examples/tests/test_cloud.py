"""Functional tests of the example cloud, using only public fixtures."""

import json
import urllib.error
import urllib.request

import nova_fixtures
import oslo_messaging

from examples.tests import base


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={'Content-Type':
                                              'application/json'})
    # NOTE(example): io_wait lets a virtual clock move while this thread
    # waits for the API's answer (no-op without a ClockFixture).
    try:
        with nova_fixtures.io_wait():
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class TestServers(base.CloudTestCase):

    def create(self, name, cell=None):
        status, body = http('POST', self.cloud.url + '/servers',
                            {'name': name, 'cell': cell})
        self.assertEqual(202, status, body)
        return body['id']

    def test_server_boots_on_a_compute_and_is_announced(self):
        server_id = self.create('web-1', cell='cell2')
        [created] = self.notes['cell2'].wait_for('instance.create.end')
        self.assertEqual(server_id, created.payload['id'])
        self.assertEqual('compute.c3', created.publisher_id)
        status, server = http('GET', f'{self.cloud.url}/servers/{server_id}')
        self.assertEqual(200, status)
        self.assertEqual({'id': server_id, 'name': 'web-1', 'host': 'c3',
                          'cell': 'cell2', 'state': 'active'}, server)

    def test_servers_land_in_the_cell_asked_for(self):
        wanted = ['cell1', 'cell2', 'cell1', 'cell1']
        ids = [self.create(f'vm-{i}', cell) for i, cell in enumerate(wanted)]
        self.notes['cell1'].wait_for('instance.create.end', count=3)
        self.notes['cell2'].wait_for('instance.create.end', count=1)
        cells = [http('GET', f'{self.cloud.url}/servers/{i}')[1]['cell']
                 for i in ids]
        self.assertEqual(wanted, cells)

    def test_unknown_server_is_404(self):
        status, body = http('GET', self.cloud.url + '/servers/nope')
        self.assertEqual((404, {'error': 'no such server'}), (status, body))

    def test_a_fifth_server_on_a_four_slot_compute_never_runs(self):
        # NOTE(example): two schedulers track free slots from heartbeats,
        # so the fifth request is refused by a scheduler that knows c3 is
        # full (409) or by c3 itself (the server goes to error), depending
        # on when the heartbeats land; never does it run.
        for i in range(4):
            self.create(f'fill-{i}', cell='cell2')
        notes = self.notes['cell2']
        notes.wait_for('instance.create.end', count=4)
        status, body = http('POST', self.cloud.url + '/servers',
                            {'name': 'fifth', 'cell': 'cell2'})
        if status == 409:
            self.assertEqual({'error': 'NoValidHost'}, body)
        else:
            self.assertEqual(202, status)
            [failed] = notes.wait_for('instance.create.error')
            self.assertEqual(body['id'], failed.payload['id'])
            url = f"{self.cloud.url}/servers/{body['id']}"
            self.assertEqual('error', http('GET', url)[1]['state'])
        self.assertEqual(4, len(notes.of_type('instance.create.end')))

    def test_no_room_anywhere_is_a_conflict(self):
        status, body = http('POST', self.cloud.url + '/servers',
                            {'name': 'x', 'cell': 'cell9'})
        self.assertEqual((409, {'error': 'NoValidHost'}), (status, body))

    def test_notification_agent_hears_every_cell(self):
        self.create('a', cell='cell1')
        self.create('b', cell='cell2')
        self.notes['cell1'].wait_for('instance.create.end')
        self.notes['cell2'].wait_for('instance.create.end')
        self.assertTrue(self.cloud.agent.wait_for('instance.create.end', 2))
        self.assertEqual(2, self.cloud.agent.tally['instance.create.end'])


class TestHeartbeatsAndPolling(base.CloudTestCase):

    def test_every_scheduler_hears_every_compute(self):
        for scheduler in self.cloud.schedulers:
            self.assertEqual({'c1': 'cell1', 'c2': 'cell1', 'c3': 'cell2'},
                             {host: info['cell'] for host, info in
                              scheduler.list_hosts({}).items()})
        status, hosts = http('GET', self.cloud.url + '/hosts')
        self.assertEqual(['c1', 'c2', 'c3'], sorted(hosts))

    def test_poller_reports_usage_across_cells(self):
        self.create_server_and_wait()
        # NOTE(example): a poll that started before the build finished may
        # still count 0; the second poll from now started after it.
        notes = self.notes['api']
        count = len(notes.of_type('usage.polled')) + 2
        polled = notes.wait_for('usage.polled', count=count)
        self.assertEqual({'hosts': 3, 'used': 1}, polled[-1].payload)

    def create_server_and_wait(self):
        status, body = http('POST', self.cloud.url + '/servers',
                            {'name': 'p', 'cell': 'cell1'})
        self.notes['cell1'].wait_for('instance.create.end')
        return body['id']


class TestFailures(base.CloudTestCase):

    def test_killed_compute_times_out_its_callers_and_comes_back(self):
        deployment = self.cloud.deployment
        compute_c3 = [s for s in deployment.services if s.host == 'c3'][0]
        compute_c3.kill()
        client = deployment.bus('cell2').rpc_client('compute', server='c3',
                                                    timeout=0.1)
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          client.call, {}, 'get_usage')
        compute_c3.restart()
        self.assertEqual({'host': 'c3', 'used': 0, 'slots': 4},
                         client.call({}, 'get_usage'))

    def test_cells_do_not_share_a_bus(self):
        cell1 = self.cloud.deployment.bus('cell1')
        client = cell1.rpc_client('compute', server='c3', timeout=0.1)
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          client.call, {}, 'get_usage')


class TestHungCell(base.CloudTestCase):
    """A cell whose compute stops answering, on the virtual clock: the
    listing returns after the 60 s cell timeout, in milliseconds."""

    def test_listing_reports_a_hung_cell_as_not_responding(self):
        self.needs_memory_transport()
        status, body = http('POST', self.cloud.url + '/servers',
                            {'name': 'a', 'cell': 'cell1'})
        self.notes['cell1'].wait_for('instance.create.end')
        self.cloud.deployment.bus('cell2').broker.take_down('c3')
        start = self.clock.now()
        status, listing = http('GET', self.cloud.url + '/servers')
        self.assertEqual(200, status)
        self.assertEqual({'cell1': [body['id']], 'cell2': 'did not respond'},
                         listing)
        # NOTE(example): exactly the 60 s cell timeout: no virtual time
        # passes while the request and its reply cross the socket.
        self.assertEqual(start + 60, self.clock.now())
        self.cloud.deployment.bus('cell2').broker.bring_up('c3')

    def test_listing_with_every_cell_up(self):
        status, listing = http('GET', self.cloud.url + '/servers')
        self.assertEqual((200, {'cell1': [], 'cell2': []}),
                         (status, listing))
