"""Services with one concurrency bug each (see `examples.gallery.bugs`).

Every lock here is made when the service is, inside the test, so that it is
one of the clock's locks and a sync point of a schedule.
"""

import threading

from examples.cloud import compute
from examples.cloud import scheduler

# NOTE(gallery): long enough that a test's own wait gives up first.
GIVE_UP = 60


class Ledger:
    """What a conductor and a compute share: two locks and who got both.
    """

    def __init__(self):
        self.resources = threading.Lock()   # "compute_resources"
        self.instance = threading.Lock()    # "instance-<uuid>"
        self.done = threading.Semaphore(0)
        self.finished = []
        self.audit = Audit()


class Audit:
    """A log of what happened, behind a lock of its own."""

    def __init__(self):
        self._lock = threading.Lock()
        self.entries = []

    def note(self, *what):
        for item in what:
            with self._lock:
                self.entries.append(item)


class _Nested:
    """Holds one of the ledger's locks while it takes the other."""

    def __init__(self, ledger):
        self.ledger = ledger

    def _nested(self, first, second, what, step):
        ledger = self.ledger
        with first:
            ledger.audit.note(step, 'begin')
            if not second.acquire(timeout=GIVE_UP):
                raise RuntimeError(f'gave up waiting for {what}')
            try:
                ledger.finished.append(step)
            finally:
                second.release()
        ledger.done.release()


class ResizeConductor(_Nested):
    """Confirms a resize: the resource tracker's lock, then the instance's.
    """

    def confirm_resize(self, ctxt):
        self._nested(self.ledger.resources, self.ledger.instance,
                     'the instance lock', 'confirm_resize')


class UsageCompute(_Nested):
    """Updates usage: the instance's lock, then the tracker's (BUG: the
    other order)."""

    def update_usage(self, ctxt):
        self._nested(self.ledger.instance, self.ledger.resources,
                     'the resource tracker lock', 'update_usage')


class BuildTracker:
    """A compute that signals when its build is done."""

    def __init__(self):
        self._cond = threading.Condition()
        self.built = False
        self.audit = Audit()

    def build(self, ctxt):
        with self._cond:
            self.built = True
            self._cond.notify_all()

    def wait_built(self, timeout):
        """BUG: reads the flag outside the lock: a build finishing between
        the read and the wait notifies nobody."""
        if self.built:
            return True
        self.audit.note('waiting', 'for the build')
        with self._cond:
            return self._cond.wait(timeout)


class NameTaken(Exception):
    pass


class NameRegistry:
    """A conductor that gives each server a unique name."""

    def __init__(self):
        self._lock = threading.Lock()
        self.servers = {}
        self.outcomes = []
        self.done = threading.Semaphore(0)
        self.audit = Audit()

    def create(self, ctxt, name, server_id):
        try:
            with self._lock:
                taken = name in self.servers
            if taken:
                raise NameTaken(name)
            self.audit.note('name', name, 'free')
            # BUG: no second look under the lock before claiming the name.
            with self._lock:
                self.servers[name] = server_id
            self.outcomes.append(('created', server_id))
        except NameTaken:
            self.outcomes.append(('taken', server_id))
        finally:
            self.done.release()


class ReportingCompute(compute.ComputeManager):
    """The example cloud's compute, with its heartbeat (a report of free
    slots to the schedulers: a fanout) sent on demand (serve it with
    ``periodic=False``) and after each build (a cast). BUG (the example cloud's
    own): the heartbeat counts free slots under the lock but reports them
    after releasing it, so a build can slip in between, report first, and
    be overwritten by the older count."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.builds = threading.Semaphore(0)

    def build(self, ctxt, server_id, name):
        super().build(ctxt, server_id, name)
        super()._heartbeat(ctxt)
        self.builds.release()

    def report(self, ctxt):
        super()._heartbeat(ctxt)


class CountingScheduler(scheduler.SchedulerManager):
    """The example cloud's scheduler, counting the reports it applied."""

    def __init__(self, name):
        super().__init__(name)
        self.reports = threading.Semaphore(0)

    def report_host(self, ctxt, host, cell, free):
        super().report_host(ctxt, host, cell, free)
        self.reports.release()
