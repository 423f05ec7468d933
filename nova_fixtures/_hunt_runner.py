"""The hunt's pool of runs: work forked from one process, a few at a
time, each killed when it runs past its time (`nova_fixtures.hunt`,
``benchmarks/hunt_bench.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Iterator

__all__ = ['Runner']


class Runner:
    """Runs work in forked children, ``jobs`` at a time, each forked from
    this process as it is (so from one state), killed after ``timeout``
    real seconds. Work is a callable returning a JSON-able value.

    Each child leads a process group of its own, and is ended with it:
    the processes a run started (a test's ``subprocess``) die with it, as
    they would with the test runner's, rather than outlive the hunt."""

    def __init__(self, jobs: int, timeout: float) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix='nova-fixtures-hunt-')
        self.running: dict[int, tuple[Any, str, float]] = {}
        self._made = itertools.count()

    def start(self, key: Any, work: Callable[[], Any]) -> None:
        path = os.path.join(self.dir, f'{next(self._made)}.json')
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            code = 0
            try:
                os.setpgid(0, 0)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                value = work()
                with open(path, 'w') as f:
                    json.dump(value, f)
            except BaseException:
                code = 3
            finally:
                os._exit(code)
        try:
            # NOTE(hunt_runner): here too, so that the group exists before
            # either side goes on (whichever runs first).
            os.setpgid(pid, pid)
        except OSError:
            pass
        self.running[pid] = (key, path, time.monotonic())

    def wait(self) -> tuple[Any, Any]:
        """The next child to end: (key, its value, or a failed run's
        record when it left none or hung)."""
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid:
                _kill_group(pid)
                key, path, _ = self.running.pop(pid)
                try:
                    with open(path) as f:
                        value = json.load(f)
                    os.unlink(path)
                except OSError:
                    value = {'outcome': 'error', 'schedule': None,
                             'text': f'the run ended with status {status} '
                                     f'and no result'}
                return key, value
            now = time.monotonic()
            for pid, (key, path, began) in list(self.running.items()):
                if now - began > self.timeout:
                    _kill_group(pid)
                    os.waitpid(pid, 0)
                    del self.running[pid]
                    return key, {'outcome': 'hang', 'schedule': None,
                                 'text': f'still running after '
                                         f'{self.timeout:g} s of real time'}
            time.sleep(0.005)

    def each(self, work: Iterable[tuple[Any, Callable[[], Any]]]
             ) -> Iterator[tuple[Any, Any]]:
        """Run every ``(key, work)``, ``jobs`` at a time, taking the next
        one only when a place is free; yield ``(key, value)`` as they
        end. A caller that stops early calls `kill`."""
        pending = iter(work)
        while True:
            while len(self.running) < self.jobs:
                item = next(pending, None)
                if item is None:
                    break
                self.start(*item)
            if not self.running:
                return
            yield self.wait()

    def run(self, key: Any, work: Callable[[], Any]) -> Any:
        """Run one piece of work (nothing else running) and return its
        value."""
        for _, value in self.each([(key, work)]):
            return value
        return None  # pragma: no cover

    def kill(self) -> None:
        """End every run still going."""
        for pid in list(self.running):
            _kill_group(pid)
            os.waitpid(pid, 0)
        self.running.clear()

    def stop(self) -> None:
        self.kill()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def _kill_group(pid: int) -> None:
    """End the process group ``pid`` leads: the run and what it started.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
