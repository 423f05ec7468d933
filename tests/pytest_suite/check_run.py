"""What a user's run prints: run-wide options, fixture help, reports."""

import pytest


RUN_WIDE = '''
import time
import unittest

import oslo_messaging
from oslo_config import cfg

from nova_fixtures import clock
from nova_fixtures import virtual_time


def state():
    """(virtual clock, deadlock detector, fake: on memory://) now."""
    bubble = clock.active_bubble()
    transport = oslo_messaging.get_rpc_transport(cfg.ConfigOpts(),
                                                 url='fake:/')
    try:
        redirected = type(transport._driver).__module__.startswith(
            'fake_transport')
    finally:
        transport.cleanup()
    return (bubble is not None and bubble.virtual,
            bubble is not None and bubble.detect, redirected)


def test_function():
    print('STATE function', state())


@virtual_time.real_time
def test_real_time_function():
    print('STATE real_time function', state())


class TestCase(unittest.TestCase):
    def setUp(self):
        self.seen_in_set_up = state()

    def test_method(self):
        assert self.seen_in_set_up == state()
        print('STATE TestCase', state())


@virtual_time.real_time
class TestRealTime(unittest.TestCase):
    def test_method(self):
        print('STATE real_time TestCase', state())
'''


def test_run_wide_options_reach_functions_and_test_cases(inner):
    result = inner(RUN_WIDE, '-s', '--nova-clock', '--nova-deadlocks',
                   '--nova-transport', 'memory')
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random([
        '*STATE function (True, True, True)*',
        '*STATE real_time function (False, False, True)*',
        '*STATE TestCase (True, True, True)*',
        '*STATE real_time TestCase (False, False, True)*',
    ])


def test_without_options_tests_get_nothing(inner):
    result = inner(RUN_WIDE, '-s')
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random([
        '*STATE function (False, False, False)*',
        '*STATE TestCase (False, False, False)*',
    ])


def test_run_wide_options_are_read_from_the_environment(
        inner, monkeypatch):
    monkeypatch.setenv('NOVA_FIXTURES_CLOCK', '1')
    monkeypatch.setenv('NOVA_FIXTURES_DEADLOCKS', '0')
    monkeypatch.setenv('NOVA_FIXTURES_TRANSPORT', 'memory')
    result = inner(RUN_WIDE, '-s')
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random([
        '*STATE function (True, False, True)*',
        '*STATE TestCase (True, False, True)*',
    ])


def test_a_schedule_asked_for_puts_every_test_on_it(inner, monkeypatch):
    # NOTE(pytest): what the hunt sets for the run it starts.
    monkeypatch.setenv('NOVA_FIXTURES_SCHEDULE', '4')
    result = inner(RUN_WIDE + '''

def test_scheduled():
    assert 4 == clock.active_bubble().sched.seed
''', '-s')
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines_random([
        '*STATE function (True, False, False)*',
        '*STATE real_time function (False, False, False)*',
    ])


def test_run_wide_clock_is_virtual_time_for_a_sleep(inner):
    result = inner('''
import time


def test_sleeps():
    start = time.monotonic()
    time.sleep(3600)  # allow-sleep: virtual time (--nova-clock)
    assert 3600 == time.monotonic() - start
''', '--nova-clock')
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize('args, environ, message', [
    (['--nova-transport', 'rabbit'], {},
     "ERROR: --nova-transport 'rabbit': the only transport to redirect "
     "fake: to is 'memory'"),
    ([], {'NOVA_FIXTURES_TRANSPORT': 'rabbit'},
     "ERROR: NOVA_FIXTURES_TRANSPORT='rabbit': the only transport to "
     "redirect fake: to is 'memory'"),
    ([], {'NOVA_FIXTURES_CLOCK': 'maybe'},
     "ERROR: NOVA_FIXTURES_CLOCK='maybe' (read for --nova-clock): write 1 "
     "or 0 (or true, false, yes, no)"),
    ([], {'NOVA_FIXTURES_DEADLOCKS': '2'},
     "ERROR: NOVA_FIXTURES_DEADLOCKS='2' (read for --nova-deadlocks): "
     "write 1 or 0 (or true, false, yes, no)"),
])
def test_bad_run_wide_values_are_a_usage_error(inner, monkeypatch, args,
                                               environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = inner('def test_nothing():\n    pass\n', *args)
    assert pytest.ExitCode.USAGE_ERROR == result.ret
    assert message in result.stderr.lines


def test_command_line_wins_over_the_environment(inner, monkeypatch):
    monkeypatch.setenv('NOVA_FIXTURES_TRANSPORT', 'rabbit')
    result = inner(RUN_WIDE, '-s', '--nova-transport', 'memory')
    result.assert_outcomes(passed=4)


def test_expect_deadlock_without_a_deadlock_fails_the_test(inner):
    result = inner('''
def test_no_deadlock(expect_deadlock):
    with expect_deadlock():
        pass
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        'expect_deadlock: the with block ended and the deadlock detector '
        'reported no deadlock in it',
    ])


def test_failed_scheduled_test_reports_its_seed(inner):
    result = inner('''
import pytest

@pytest.mark.nova_schedule(seed=5)
def test_fails(schedule):
    assert False, 'boom'
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        '*- Captured nova-fixtures:schedule call -*',
        'seed 5 (pct)*',
    ])


def test_schedule_the_hunt_asks_for_takes_the_markers_place(inner,
                                                            monkeypatch):
    monkeypatch.setenv('NOVA_FIXTURES_SCHEDULE', '9')
    result = inner('''
import pytest

@pytest.mark.nova_schedule(seed=1)
def test_seed(schedule, clock):
    assert 9 == schedule.seed
    assert clock.bubble.sched is schedule.sched
''')
    result.assert_outcomes(passed=1)


FIXTURES = ('bus', 'make_bus', 'start_service', 'notifications', 'clock',
            'deadlocks', 'schedule', 'expect_deadlock', 'fake_redirect',
            'use_fixture')


def test_fixture_help_says_arguments_and_what_it_returns(inner):
    result = inner('def test_nothing():\n    pass\n', '--fixtures')
    assert pytest.ExitCode.OK == result.ret
    text = result.stdout.str()
    for name in FIXTURES:
        result.stdout.fnmatch_lines([f'{name} -- *', '    Returns *'])
    result.stdout.fnmatch_lines([
        'start_service -- *',
        '    Returns ``start_service(manager, topic, host, bus=None, '
        '**kwargs)``,',
        '    which returns a started `ServiceFixture`, stopped after the '
        'test.',
    ])
    for marker in ('nova_clock', 'nova_deadlocks', 'nova_schedule'):
        assert f'@pytest.mark.{marker}(' in text


def test_xdist_workers_and_random_order_keep_tests_apart(pytester):
    pytester.makepyfile(test_inner='''
import pytest

@pytest.mark.parametrize('n', range(4))
def test_each_on_its_own_bus_and_clock(bus, clock, notifications, n):
    assert [] == bus.broker.journal.entries()
    bus.notifier('compute.c1').info({}, 'thing.happened', {'n': n})
    [note] = notifications.wait_for('thing.happened')
    assert {'n': n} == note.payload
    assert 0 == clock.now()


def test_fails(bus):
    bus.notifier('compute.c1').info({}, 'thing.happened', {'x': 1})
    bus.settle()
    assert False, 'boom'
''')
    result = pytester.runpytest_subprocess(
        '-p', 'no:cacheprovider', '-n', '2', '-p', 'randomly')
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        '*- Captured fake-transport:journal memory://test-* call -*',
        '*thing.happened*',
    ])
