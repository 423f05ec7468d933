"""ThreadLeakFixture and NoEventletFixture."""

import logging
import os
import subprocess
import sys
import threading
import time

import fixtures
import testtools

import nova_fixtures
from nova_fixtures import _abandon


# Reports name files below their sys.path entry: the tests run from the
# repository's root.
HERE = os.path.relpath(__file__)


def start_parked_thread(release):
    thread = threading.Thread(target=release.wait, name='parked-worker')
    thread.start()
    return thread


class TestThreadLeakFixture(testtools.TestCase):

    def test_leaked_thread_fails_naming_it_and_where_it_started(self):
        release = threading.Event()
        fixture = nova_fixtures.ThreadLeakFixture(grace=0.01)
        fixture.setUp()
        thread = start_parked_thread(release)
        self.addCleanup(thread.join)
        self.addCleanup(release.set)
        error = self.assertRaises(nova_fixtures.ThreadLeak, fixture.cleanUp)
        message = str(error)
        self.assertTrue(message.startswith(
            "1 thread(s) left running: 'parked-worker'\n"
            "Thread 'parked-worker' (non-daemon) started at:\n"), message)
        self.assertIn('in start_parked_thread\n    thread.start()',
                      message)

    def test_on_the_clock_a_thread_blocked_for_good_fails_at_once(self):
        # NOTE(tests): a grace of an hour: waiting it out would hang the
        # test; the clock knew the thread could never finish.
        leaks = nova_fixtures.ThreadLeakFixture(grace=3600)
        leaks.setUp()
        clock = nova_fixtures.ClockFixture()
        clock.setUp()
        release = threading.Event()
        forever = threading.Event()

        def stuck():
            while not release.is_set():
                forever.wait()

        thread = threading.Thread(target=stuck, name='stuck-forever')
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(forever.set)
        self.addCleanup(release.set)
        clock.settle()
        line = stuck.__code__.co_firstlineno + 2
        clock.cleanUp()
        error = self.assertRaises(nova_fixtures.ThreadLeak, leaks.cleanUp)
        message = str(error)
        self.assertTrue(message.startswith(
            "1 thread(s) left running: 'stuck-forever'\n"
            "Thread 'stuck-forever' (non-daemon) started at:\n"), message)
        self.assertIn(
            f"and, when the clock stopped, waits at {HERE}:{line} "
            f"(Condition, Event or queue)\nis now at:\n", message)
        self.assertIn(f'line {line}, in stuck\n    forever.wait()', message)

    def test_after_the_clock_budget_failure_leftovers_are_only_logged(self):
        # NOTE(tests): a grace of an hour: waiting it out would hang the
        # test; the clock's failure ended the test early.
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_fixtures.threads', level=logging.WARNING))
        leaks = nova_fixtures.ThreadLeakFixture(grace=3600)
        leaks.setUp()
        clock = nova_fixtures.ClockFixture()
        clock.setUp()
        stop = threading.Event()

        def poll():
            while not stop.wait(600):
                pass

        thread = threading.Thread(target=poll, name='meter-poller')
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(stop.set)
        self.assertRaises(nova_fixtures.ClockError, time.sleep, 7200)
        clock.cleanUp()
        leaks.cleanUp()
        self.assertTrue(thread.is_alive())
        self.assertTrue(logger.output.startswith(
            "1 thread(s) left running: 'meter-poller' (not waited for, and "
            "not a second failure: the virtual time budget was exceeded)\n"
            "Thread 'meter-poller' (non-daemon) started at:\n"),
            logger.output)

    def test_a_new_fixture_checks_as_usual_after_an_abandoned_test(self):
        _abandon.abandon('the test timed out')
        release = threading.Event()
        fixture = nova_fixtures.ThreadLeakFixture(grace=0.01)
        fixture.setUp()
        thread = start_parked_thread(release)
        self.addCleanup(thread.join)
        self.addCleanup(release.set)
        self.assertRaises(nova_fixtures.ThreadLeak, fixture.cleanUp)

    def test_thread_that_finishes_within_grace_is_not_a_leak(self):
        release = threading.Event()
        with nova_fixtures.ThreadLeakFixture(grace=10):
            start_parked_thread(release)
            release.set()

    def test_ignored_prefixes_may_outlive_the_test(self):
        release = threading.Event()
        with nova_fixtures.ThreadLeakFixture(grace=0.01,
                                             ignore=['parked-']):
            thread = start_parked_thread(release)
        self.assertTrue(thread.is_alive())
        release.set()
        thread.join()


class TestNoEventletFixture(testtools.TestCase):

    def test_spawning_a_greenthread_fails_the_test(self):
        import eventlet
        fixture = nova_fixtures.NoEventletFixture()
        fixture.setUp()
        eventlet.spawn(lambda: None)
        error = self.assertRaises(nova_fixtures.EventletUsed,
                                  fixture.cleanUp)
        self.assertTrue(str(error).startswith(
            'the test used an eventlet hub (a greenthread spawn, sleep or '
            'pool), first at:\n'))
        self.assertIn('eventlet.spawn(lambda: None)', str(error))

    def test_monkey_patching_fails_the_test(self):
        self.assertIn('eventlet', sys.modules)
        from eventlet import patcher
        fixture = nova_fixtures.NoEventletFixture()
        fixture.setUp()
        # NOTE(tests): pretend, rather than really patch this interpreter.
        patcher.already_patched['thread'] = True
        self.addCleanup(patcher.already_patched.pop, 'thread')
        error = self.assertRaises(nova_fixtures.EventletUsed,
                                  fixture.cleanUp)
        self.assertEqual('the test monkey-patched eventlet (thread); '
                         'nova_fixtures runs on native threads only',
                         str(error))

    def test_importing_eventlet_is_allowed(self):
        with nova_fixtures.NoEventletFixture():
            import eventlet  # noqa: F401


_PATCHED_IMPORT = """
import warnings
warnings.simplefilter('ignore')
import eventlet
eventlet.monkey_patch()
print(', '.join(sorted(eventlet.patcher.already_patched)))
try:
    import nova_fixtures
except ImportError as exc:
    print(type(exc).__name__, exc)
"""


class TestEventletPatchedInterpreter(testtools.TestCase):

    def test_importing_the_library_after_monkey_patch_says_why(self):
        # In a child: really patching this interpreter would break the run.
        done = subprocess.run([sys.executable, '-c', _PATCHED_IMPORT],
                              capture_output=True, text=True, timeout=60)
        patched, said = done.stdout.split('\n', 1)
        self.assertIn('thread, time', patched)
        self.assertEqual(
            f'EventletPatched nova_fixtures runs on native threads only, and '
            f'eventlet.monkey_patch() has patched this interpreter '
            f'({patched}) before nova_fixtures was imported. Remove the '
            f'monkey_patch() call from the code the tests import first '
            f'(often the tests package\'s __init__.py), or run these tests '
            f'without nova_fixtures.\n', said, done.stderr)
