"""The example suite's scenarios, written as a pytest user would."""

import threading

import oslo_messaging
import pytest

import nova_fixtures
from examples.tests.test_cloud import http


def test_server_boots_on_a_compute_and_is_announced(cloud):
    status, body = http('POST', cloud.url + '/servers',
                        {'name': 'web-1', 'cell': 'cell2'})
    assert (202, ['id']) == (status, list(body))
    [created] = cloud.notes['cell2'].wait_for('instance.create.end')
    assert body['id'] == created.payload['id']
    assert 'compute.c3' == created.publisher_id
    assert (200, {'id': body['id'], 'name': 'web-1', 'host': 'c3',
                  'cell': 'cell2', 'state': 'active'}) == \
        http('GET', f"{cloud.url}/servers/{body['id']}")


def test_hung_cell_listing_says_did_not_respond_after_60_virtual_s(
        cloud, clock):
    status, body = http('POST', cloud.url + '/servers',
                        {'name': 'a', 'cell': 'cell1'})
    cloud.notes['cell1'].wait_for('instance.create.end')
    cloud.cells['cell2'].broker.take_down('c3')
    start = clock.now()
    status, listing = http('GET', cloud.url + '/servers')
    assert (200, {'cell1': [body['id']], 'cell2': 'did not respond'}) == \
        (status, listing)
    assert start + 60 == clock.now()
    cloud.cells['cell2'].broker.bring_up('c3')


def test_killed_compute_times_out_its_caller_and_comes_back(cloud, clock):
    compute_c3 = cloud.service('c3')
    compute_c3.kill()
    client = cloud.cells['cell2'].rpc_client('compute', server='c3',
                                             timeout=30)
    start = clock.now()
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.call({}, 'get_usage')
    assert start + 30 == clock.now()
    compute_c3.restart()
    assert {'host': 'c3', 'used': 0, 'slots': 4} == \
        client.call({}, 'get_usage')


def test_cells_do_not_share_a_bus(cloud):
    client = cloud.cells['cell1'].rpc_client('compute', server='c3',
                                             timeout=0.1)
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.call({}, 'get_usage')


def test_notification_agent_hears_every_cell(cloud):
    for name, cell in (('a', 'cell1'), ('b', 'cell2')):
        http('POST', cloud.url + '/servers', {'name': name, 'cell': cell})
        cloud.notes[cell].wait_for('instance.create.end')
    assert cloud.agent.wait_for('instance.create.end', 2)
    assert 2 == cloud.agent.tally['instance.create.end']


class Echo:
    def echo(self, ctxt, value):
        return value


# NOTE(pytest): bus is asked for before clock, yet the clock is set up
# first, so the service's call times out on virtual time.
def test_clock_comes_before_the_bus_whatever_the_order(bus, start_service,
                                                       clock):
    service = start_service(Echo(), 'echo', 'e1')
    assert [1, 2] == bus.rpc_client('echo', 'e1').call({}, 'echo',
                                                       value=(1, 2))
    service.kill()
    with pytest.raises(oslo_messaging.MessagingTimeout):
        bus.rpc_client('echo', 'e1', timeout=3600).call({}, 'echo',
                                                        value=1)
    assert 3600 == clock.now()


@pytest.mark.nova_clock(max_virtual=100.0)
def test_clock_marker_passes_its_arguments_and_needs_no_clock_fixture(
        bus):
    with pytest.raises(nova_fixtures.ClockError):
        threading.Event().wait(1000)


def test_start_service_on_another_bus(make_bus, start_service):
    cell = make_bus('cell1')
    start_service(Echo(), 'echo', 'e1', bus=cell)
    assert 'x' == cell.rpc_client('echo', 'e1').call({}, 'echo', value='x')
    assert cell.url.endswith('-cell1/')


@pytest.mark.nova_deadlocks(on_inversion='record')
def test_lock_order_inversion_is_recorded_under_the_marker(deadlocks):
    a = threading.Lock()
    b = threading.Lock()
    with a:
        with b:
            pass

    def other_order():
        with b:
            with a:
                pass

    thread = threading.Thread(target=other_order, name='other-order')
    thread.start()
    thread.join()
    [report] = deadlocks.inversions
    assert 'other-order' in report


def test_plain_tests_get_nothing(request):
    assert '_nova_env' not in request.fixturenames
