"""apply_clock: an unedited suite runs on virtual time."""

import time
import unittest

import testtools

from nova_fixtures import clock
from nova_fixtures import virtual_time


def unaware_case():
    """A test case written with no thought of this library."""

    class Unaware(unittest.TestCase):

        def setUp(self):
            self.started = time.monotonic()

        def test_waits_an_hour(self):
            time.sleep(3000)  # allow-sleep: virtual time
            self.assertEqual(self.started + 3000, time.monotonic())
            self.assertIsNotNone(clock._current)

        def test_reads_real_time(self):
            self.assertIsNone(clock._current)

    return Unaware


class TestApplyClock(testtools.TestCase):

    def test_wraps_each_test_but_the_excluded(self):
        case = unaware_case()
        suite = unittest.TestSuite(
            [case('test_waits_an_hour'), case('test_reads_real_time')])
        virtual_time.apply_clock(suite, exclude=[r'test_reads_real_time$'])
        result = unittest.TestResult()
        start = time.perf_counter()
        suite.run(result)
        self.assertEqual([], result.errors + result.failures)
        self.assertEqual(2, result.testsRun)
        self.assertLess(time.perf_counter() - start, 3000)
        self.assertIsNone(clock._current)
