"""The plugin with pytest-timeout, and after a failure that ends a test
early (a timeout, the clock's budget): one report, no long teardown."""

import threading

import pytest

pytest.importorskip('pytest_timeout')


def release(name):
    """Let the inner test's thread ``name`` (waiting on the Event it runs
    for) finish, and join it: no thread outlives this test."""
    for thread in threading.enumerate():
        if thread.name == name:
            thread._target.__self__.set()
            thread.join()


def teardown_of(result):
    [report] = [r for r in result.reprec.getreports(
        'pytest_runtest_logreport') if r.when == 'teardown']
    return report


def test_signal_timeout_gets_a_hang_report(inner):
    result = inner('''
import threading

import pytest


@pytest.mark.timeout(1, method='signal')
def test_hangs(bus):
    threading.Event().wait()
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*Failed: Timeout (>1.0s) from pytest-timeout.',
        '*- Captured nova-fixtures:hang-report call -*',
        'Threads:',
        '  "MainThread", interrupted in:',
        '*test_inner.py*in test_hangs',
        'Bus memory://test-*',
    ])


def test_thread_timeout_writes_the_hang_report_before_exiting(pytester):
    # NOTE(pytest): pytest-timeout's thread method ends the process with
    # os._exit(1): run it in a child process.
    pytester.makepyfile(test_inner='''
import threading

import pytest


@pytest.mark.timeout(1, method='thread')
def test_hangs(bus):
    threading.Event().wait()
''')
    result = pytester.runpytest_subprocess('-p', 'no:cacheprovider')
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        '*+ nova-fixtures:hang-report test_inner.py::test_hangs +*',
        'Threads:',
        '  "MainThread":',
        '*test_inner.py*in test_hangs',
        'Bus memory://test-*',
        '*+ Timeout +*',
    ])


def test_teardown_after_a_timeout_does_not_wait_out_a_stuck_call(inner):
    result = inner('''
import pytest


class Relay:
    def __init__(self, bus):
        self.bus = bus

    def relay(self, ctxt):
        # NOTE(pytest): nobody serves 'nowhere': 30 s of waiting.
        self.bus.rpc_client('nowhere', timeout=30).call(ctxt, 'ping')


@pytest.mark.timeout(1, method='signal')
def test_hangs(bus, start_service):
    start_service(Relay(bus), 'relay', 'r1')
    bus.rpc_client('relay', 'r1', timeout=60).call({}, 'relay')
''', '-rA')
    # NOTE(pytest): the relay's worker ends with the teardown, or soon
    # after it (it unwinds from its call): none outlives this test.
    for thread in threading.enumerate():
        if thread.name.startswith('r1-'):
            thread.join()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*- Captured nova-fixtures:hang-report call -*',
        '*in relay',
    ])
    # NOTE(pytest): the bug was a teardown waiting out the relay's 30 s.
    assert teardown_of(result).duration < 15
    assert 'ThreadLeak' not in result.stdout.str()


def test_budget_error_names_the_marker(inner):
    result = inner('''
import time

import pytest


@pytest.mark.nova_clock(max_virtual=60)
def test_sleeps_too_long(bus):
    time.sleep(61)  # allow-sleep: virtual time (the nova_clock marker)
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        'E*ClockError: virtual time budget of 60 s exceeded: the next '
        'deadline is at 61 s; raise it with '
        '@pytest.mark.nova_clock(max_virtual=...)',
    ])


def test_budget_failure_is_the_only_error_and_is_not_waited_on(inner):
    result = inner('''
import threading
import time

import pytest


class Poller(threading.Event):
    def run(self):
        while not self.wait(600):
            pass


@pytest.mark.nova_clock()
@pytest.mark.nova_thread_leaks(grace=30)
def test_polls_past_the_budget(bus):
    threading.Thread(target=Poller().run, name='meter-poller',
                     daemon=True).start()
    time.sleep(7200)  # allow-sleep: virtual time (the nova_clock marker)
''', '-rA')
    release('meter-poller')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        'E*ClockError: virtual time budget of 3600 s exceeded*',
        # NOTE(pytest): named, as a warning, in the teardown's log.
        '*WARNING*meter-poller*',
    ])
    assert 'ThreadLeak' not in result.stdout.str()
    # NOTE(pytest): the bug was a teardown waiting out the leak check's
    # grace (30 s here) for a thread the failure left running.
    assert teardown_of(result).duration < 15
