"""A clean run of a user's suite prints no warning that comes from us."""

import os
import subprocess
import sys

import testtools

SUITE = '''
import unittest
import nova_fixtures


class Manager:
    def ping(self, ctxt):
        return 'pong'


class Test(nova_fixtures.TestCase):
    USE_CLOCK = True

    def test_services_listeners_and_calls(self):
        self.start_service(Manager(), 'svc', 'h1')
        self.useFixture(nova_fixtures.NotificationListenerFixture(
            [Manager()], self.bus))
        assert self.bus.rpc_client('svc').call({}, 'ping') == 'pong'


result = unittest.TextTestRunner(verbosity=0).run(
    unittest.defaultTestLoader.loadTestsFromTestCase(Test))
raise SystemExit(0 if result.wasSuccessful() else 1)
'''


class TestNoWarnings(testtools.TestCase):

    def test_importing_and_running_services_warns_nothing(self):
        env = dict(os.environ, OS_LOG_CAPTURE='1', OS_STDOUT_CAPTURE='1',
                   OS_STDERR_CAPTURE='1', PYTHONWARNINGS='always')
        run = subprocess.run([sys.executable, '-c', SUITE], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(0, run.returncode, run.stderr)
        warnings = [line for line in run.stderr.splitlines()
                    if 'Warning' in line]
        self.assertEqual([], warnings, run.stderr)
