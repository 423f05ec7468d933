"""The notification agent: tallies every notification it hears."""

import collections
import threading


class NotificationAgent:
    """An endpoint for info/error notifications, on any number of buses."""

    def __init__(self):
        self.tally = collections.Counter()
        self._lock = threading.Lock()

    def _count(self, event_type):
        with self._lock:
            self.tally[event_type] += 1

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._count(event_type)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._count(event_type)
