"""The notification agent: tallies every notification it hears."""

import collections
import threading


class NotificationAgent:
    """An endpoint for info/error notifications, on any number of buses."""

    def __init__(self):
        self.tally = collections.Counter()
        self._cond = threading.Condition()

    def _count(self, event_type):
        with self._cond:
            self.tally[event_type] += 1
            self._cond.notify_all()

    def wait_for(self, event_type, count, timeout=30):
        """Block until ``count`` notifications of ``event_type`` arrived."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self.tally[event_type] >= count, timeout)

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._count(event_type)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._count(event_type)
