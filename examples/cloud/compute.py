"""The compute service: builds instances, heartbeats to the schedulers."""

import threading

from oslo_config import cfg
from oslo_service import periodic_task

HEARTBEAT_SPACING = 0.05


class InstanceNotFound(Exception):
    pass


class ComputeManager(periodic_task.PeriodicTasks):
    """Serves topic ``compute`` on its cell's bus.

    :param host: this compute's name.
    :param cell: its cell.
    :param cell_bus: the cell's bus (a TransportFixture), for notifications.
    :param api_bus: the API-level bus, where the schedulers listen.
    :param slots: how many instances it can hold.
    """

    def __init__(self, host, cell, cell_bus, api_bus, slots=4):
        super().__init__(cfg.ConfigOpts())
        self.host = host
        self.cell = cell
        self.slots = slots
        self.instances = {}
        self._lock = threading.Lock()
        self._notifier = cell_bus.notifier(f'compute.{host}')
        self._schedulers = api_bus.rpc_client('scheduler').prepare(
            fanout=True)

    def build(self, ctxt, server_id, name):
        with self._lock:
            if len(self.instances) >= self.slots:
                state = 'error'
            else:
                state = 'active'
            self.instances[server_id] = {'id': server_id, 'name': name,
                                         'host': self.host,
                                         'cell': self.cell, 'state': state}
        event = 'instance.create.end' if state == 'active' else \
            'instance.create.error'
        self._notifier.info(ctxt, event, dict(self.instances[server_id]))

    def get_instance(self, ctxt, server_id):
        with self._lock:
            try:
                return dict(self.instances[server_id])
            except KeyError:
                raise InstanceNotFound(server_id)

    def list_instances(self, ctxt):
        with self._lock:
            return sorted(self.instances)

    def get_usage(self, ctxt):
        with self._lock:
            return {'host': self.host, 'used': len(self.instances),
                    'slots': self.slots}

    @periodic_task.periodic_task(spacing=HEARTBEAT_SPACING,
                                 run_immediately=True)
    def _heartbeat(self, context):
        with self._lock:
            free = self.slots - len(self.instances)
        self._schedulers.cast({}, 'report_host', host=self.host,
                              cell=self.cell, free=free)
