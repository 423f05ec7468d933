"""Tests for test_hunt.py to hunt in (not named test_*: nobody runs them
otherwise)."""

import os
import subprocess
import threading
import time

import testtools

import nova_fixtures
from nova_fixtures import clock


class TestSubjects(nova_fixtures.TestCase):
    USE_CLOCK = True

    def test_passes(self):
        lock = threading.Lock()
        taken = []

        def take():
            with lock:
                taken.append(1)

        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(2, len(taken))

    def test_spins(self):
        def spin():
            while True:
                pass

        threading.Thread(target=spin, daemon=True).start()
        time.sleep(1)  # allow-sleep: virtual time


class TestPlain(testtools.TestCase):

    def test_runs_on_a_clock(self):
        self.assertIsNotNone(clock.active_bubble())
        self.assertIsNotNone(clock.active_bubble().sched)


def a_function(bus):
    """A pytest-style test function: no unittest test."""


class TestLeavesAProcess(nova_fixtures.TestCase):
    USE_CLOCK = True

    def test_hangs_with_a_child_process(self):
        # NOTE(hunt_subjects): the child holds the write end of the pipe
        # test_hunt reads: it sees end-of-file once every holder is gone.
        fd = int(os.environ['HUNT_SUBJECT_FD'])
        subprocess.Popen(['sleep', '600'], pass_fds=(fd,))
        while True:
            pass
