"""The plugin seen from outside: what a failing or leaking test reports."""

import threading


def release(name):
    """Let the inner test's leaked thread ``name`` (blocked on an Event)
    finish, and join it: no thread outlives this test."""
    for thread in threading.enumerate():
        if thread.name == name:
            thread._target.__self__.set()
            thread.join()


def test_failing_test_report_shows_the_journal_and_the_clock(inner):
    result = inner('''
import pytest

@pytest.mark.nova_clock()
def test_fails(bus):
    bus.notifier('compute.c1').info({}, 'thing.happened', {'x': 1})
    bus.settle()
    assert False, 'boom'
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*- Captured fake-transport:journal memory://test-* call -*',
        '*thing.happened*',
        '*- Captured nova-fixtures:clock call -*',
        'virtual time 0 s after 0 jump(s);*',
    ])


def test_fake_differences_are_reported(inner):
    result = inner('''
from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import pytest


class Central:
    def create_zone(self, ctxt):
        raise oslo_messaging.MessagingTimeout('central timed out')


def test_timeout(fake_redirect):
    conf = cfg.ConfigOpts()
    conf_fixture = conffixture.ConfFixture(conf)
    conf_fixture.setUp()
    transport = oslo_messaging.get_rpc_transport(conf, url='fake:/')
    target = oslo_messaging.Target(topic='central', server='c1')
    server = oslo_messaging.get_rpc_server(transport, target, [Central()])
    server.start()
    try:
        client = oslo_messaging.get_rpc_client(transport, target)
        with pytest.raises(oslo_messaging.RemoteError) as caught:
            client.call({}, 'create_zone')
        assert '--fake-compat (NOVA_FIXTURES_FAKE_COMPAT=1)' in str(
            caught.value)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
        conf_fixture.cleanUp()
''', '-rA')
    result.assert_outcomes(passed=1)
    line = ('test_inner.py::test_timeout: exception type: '
            'central.create_zone raised '
            'oslo_messaging.exceptions.MessagingTimeout, which fake: raises '
            'in the caller as it is; rabbit: the caller gets RemoteError, '
            'oslo_messaging.exceptions not being in the transport\'s '
            'allowed_remote_exmods')
    result.stdout.fnmatch_lines([
        '*- Captured fake-transport:differences teardown -*',
        'fake: differences: 1 place(s) where a test relied on*',
        '  ' + line,
        '*= fake: differences =*',
        'fake: differences: 1 place(s) where a test relied on*',
        '  ' + line,
    ])


def test_passing_test_shows_nothing(inner):
    result = inner('''
def test_passes(bus, clock):
    bus.notifier('compute.c1').info({}, 'thing.happened', {'x': 1})
''', '-rA')
    result.assert_outcomes(passed=1)
    assert 'fake-transport:journal' not in result.stdout.str()


def test_leaked_thread_fails_the_test_at_teardown(inner):
    result = inner('''
import threading
import pytest

@pytest.mark.nova_thread_leaks(grace=0.1)
def test_leaks(bus):
    bus.notifier('compute.c1').info({}, 'thing.happened', {'x': 1})
    # NOTE(pytest): blocked until the outer test releases it.
    threading.Thread(target=threading.Event().wait, name='leaky',
                     daemon=True).start()
''')
    release('leaky')
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        '*ERROR at teardown of test_leaks*',
        "E*ThreadLeak: 1 thread(s) left running: 'leaky'",
        "E*Thread 'leaky' (daemon) started at:",
        '*test_inner.py*in test_leaks*',
        '*- Captured fake-transport:journal memory://test-* teardown -*',
        '*thing.happened*',
    ])


def test_thread_leak_check_can_be_turned_off(inner):
    result = inner('''
import threading
import pytest

@pytest.mark.nova_thread_leaks(check=False)
def test_leaks(bus):
    threading.Thread(target=threading.Event().wait, name='leaky',
                     daemon=True).start()
''')
    release('leaky')
    result.assert_outcomes(passed=1)


def test_deadlock_is_detected_and_reported(inner):
    result = inner('''
import threading
import nova_fixtures

def test_cycle(deadlocks):
    a = threading.Lock()
    b = threading.Lock()
    barrier = threading.Barrier(2)
    errors = []

    def take(first, second):
        with first:
            barrier.wait()
            try:
                with second:
                    pass
            except nova_fixtures.DeadlockError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=take, args=pair, name=name)
               for name, pair in (('T1', (a, b)), ('T2', (b, a)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [error] = errors
    assert 'waits for' in str(error)
''')
    # NOTE(pytest): as DeadlockFixture does, a test in which a deadlock
    # was detected fails at cleanup even though the thread caught it.
    release('leaky')
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        '*ERROR at teardown of test_cycle*',
        '*- Captured nova-fixtures:deadlocks teardown -*',
        '*"T?" waits for *held by "T?"*',
    ])


def test_timeout_failure_gets_a_hang_report(inner):
    # NOTE(pytest): pytest-timeout fails a test with "Timeout >Ns".
    result = inner('''
import pytest

def test_hangs(bus):
    pytest.fail('Timeout >1.0s')
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*- Captured nova-fixtures:hang-report call -*',
        'Threads:',
        '*"MainThread", interrupted in:',
        'Bus memory://test-*',
    ])


def test_markers_are_registered(inner):
    result = inner('''
import pytest

@pytest.mark.nova_clock(autojump=True)
@pytest.mark.nova_deadlocks(lockdep=False)
def test_marked():
    import time
    start = time.monotonic()
    time.sleep(600)  # allow-sleep: virtual time (the nova_clock marker)
    assert time.monotonic() - start == 600
''', '--strict-markers')
    result.assert_outcomes(passed=1)


def test_plugin_is_loaded_from_its_entry_point(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin('nova_fixtures')


def test_ties_are_ordered_and_the_marker_restores_together(inner):
    result = inner('''
import threading
import time

import pytest


def polls_seen_by_the_tests_sleep():
    polls, stop = [], threading.Event()

    def poller():
        while not stop.wait(600):
            polls.append(1)

    thread = threading.Thread(target=poller)
    thread.start()
    time.sleep(3600)  # allow-sleep: virtual time (the nova_clock marker)
    seen = len(polls)
    stop.set()
    thread.join()
    return seen


@pytest.mark.nova_clock()
def test_ordered():
    assert polls_seen_by_the_tests_sleep() == 5


@pytest.mark.nova_clock(ties='together')
def test_together_is_accepted():
    assert polls_seen_by_the_tests_sleep() in (5, 6)
''')
    result.assert_outcomes(passed=2)
