"""The scheduler: learns hosts from fanout heartbeats, picks one."""

import threading


class NoValidHost(Exception):
    pass


class SchedulerManager:
    """Serves topic ``scheduler`` on the API bus; every copy gets every
    heartbeat (fanout), calls to pick a host are shared round-robin."""

    def __init__(self, name):
        self.name = name
        self.hosts = {}
        self._cond = threading.Condition()

    def report_host(self, ctxt, host, cell, free):
        with self._cond:
            self.hosts[host] = {'cell': cell, 'free': free}
            self._cond.notify_all()

    def list_hosts(self, ctxt):
        with self._cond:
            return {host: dict(info) for host, info in self.hosts.items()}

    def select_destination(self, ctxt, cell=None):
        with self._cond:
            candidates = sorted(
                (-info['free'], host, info['cell'])
                for host, info in self.hosts.items()
                if info['free'] > 0 and cell in (None, info['cell']))
            if not candidates:
                raise NoValidHost(f'no host with room in cell {cell}')
            _, host, host_cell = candidates[0]
            self.hosts[host]['free'] -= 1
            return {'host': host, 'cell': host_cell}

    def wait_for_hosts(self, count, timeout=10):
        """Block until ``count`` hosts reported (for the tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.hosts) >= count,
                                       timeout)
