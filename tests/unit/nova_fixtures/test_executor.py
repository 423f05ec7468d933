"""PromptExecutor: a new worker whenever none is free."""

import queue
import threading

import testtools

from nova_fixtures import executor


class HandOver(queue.Queue):
    """A work queue that stops a worker just after it took an item, while
    futurist still marks it idle, until the test lets it go."""

    def __init__(self):
        super().__init__()
        self.took = threading.Event()
        self.go = threading.Event()

    def get(self, *args, **kwargs):
        item = super().get(*args, **kwargs)
        if not self.took.is_set():
            self.took.set()
            self.go.wait(30)
        return item


class TestPromptExecutor(testtools.TestCase):

    def test_submission_runs_while_a_worker_that_took_one_still_looks_idle(
            self):
        pool = executor.PromptExecutor(max_workers=2)
        self.addCleanup(pool.shutdown)
        pool._work_queue = HandOver()
        b_done = threading.Event()
        first = pool.submit(b_done.wait, 10)
        self.assertTrue(pool._work_queue.took.wait(10))
        second = pool.submit(b_done.set)
        pool._work_queue.go.set()
        # NOTE(tests): before, the second item waited behind the first
        # (which waits for the second): the first timed out after 10 s.
        self.assertTrue(first.result(30))
        second.result(30)
        self.assertEqual(2, len(pool._workers))

    def test_a_free_worker_takes_the_next_item(self):
        pool = executor.PromptExecutor(max_workers=4)
        self.addCleanup(pool.shutdown)
        # NOTE(tests): result() returns before the worker's done callback
        # frees its claim; a submission in between rightly starts a second
        # worker (seen once under load). Free means that callback ran.
        freed = threading.Semaphore(0)
        release = pool._release_claim

        def release_and_say(future):
            release(future)
            freed.release()

        pool._release_claim = release_and_say
        for i in range(5):
            self.assertEqual(i, pool.submit(lambda i=i: i).result(10))
            self.assertTrue(freed.acquire(timeout=10))
        self.assertEqual(1, len(pool._workers))
