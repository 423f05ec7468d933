"""A test that says whether it runs on a schedule, for test_run.py.

Run through ``python -m nova_fixtures.run --schedule SEED``; skipped
without it. Imports the library in the test only, as a suite would not.
"""

import os
import threading

import testtools


class TestOnASchedule(testtools.TestCase):

    def test_threads_take_turns(self):
        seed = os.environ.get('NOVA_FIXTURES_SCHEDULE')
        if not seed:
            self.skipTest('not run on a schedule')
        from nova_fixtures import clock
        sched = clock.active_bubble().sched
        self.assertEqual((int(seed), 'pct'),
                         (sched.seed, sched.strategy.name))
        lock = threading.Lock()
        taken = []

        def take(n):
            for _ in range(3):
                with lock:
                    taken.append(n)

        threads = [threading.Thread(target=take, args=(n,))
                   for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(6, len(taken))
        self.assertGreater(sched.step, 12)
