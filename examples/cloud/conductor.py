"""The super conductor: places servers and forwards to their cell."""

import threading
import uuid

import oslo_messaging


class ServerNotFound(Exception):
    pass


class NoValidHost(Exception):
    pass


class ConductorManager:
    """Serves topic ``conductor`` on the API bus.

    :param api_bus: the API-level bus (scheduler lives there).
    :param cell_buses: cell name -> bus, for reaching computes.
    """

    def __init__(self, api_bus, cell_buses):
        self._scheduler = api_bus.rpc_client('scheduler')
        self._cells = {name: bus for name, bus in cell_buses.items()}
        self._placements = {}
        self._lock = threading.Lock()

    def _compute(self, cell, host):
        return self._cells[cell].rpc_client('compute', server=host)

    def create_server(self, ctxt, name, cell=None):
        server_id = uuid.uuid4().hex
        self.build_server(ctxt, server_id, name, cell)
        return server_id

    def build_server(self, ctxt, server_id, name, cell=None):
        try:
            where = self._scheduler.call(ctxt, 'select_destination',
                                         cell=cell)
        except oslo_messaging.RemoteError as exc:
            if exc.exc_type == 'NoValidHost':
                raise NoValidHost(exc.value)
            raise
        with self._lock:
            self._placements[server_id] = where
        self._compute(where['cell'], where['host']).cast(
            ctxt, 'build', server_id=server_id, name=name)

    def get_server(self, ctxt, server_id):
        with self._lock:
            where = self._placements.get(server_id)
        if where is None:
            raise ServerNotFound(server_id)
        return self._compute(where['cell'], where['host']).call(
            ctxt, 'get_instance', server_id=server_id)
