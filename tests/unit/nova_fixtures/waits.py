"""Waits for tests that have nothing to wait on."""

import _thread


def wait_until_queued(lock, count):
    """Until ``count`` threads wait for the VLock ``lock``.

    A thread outside the bubble (or one waiting on a lock, under a
    DeadlockFixture alone) gives nothing to wait on, so poll, in real time,
    for 10 s at most.
    """
    pause = _thread.allocate_lock()
    pause.acquire()
    for _ in range(10000):
        if len(lock.waiters) >= count:
            return
        pause.acquire(True, 0.001)
    raise AssertionError(f'{count} waiter(s) never queued for {lock!r}')
