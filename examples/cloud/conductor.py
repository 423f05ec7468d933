"""The super conductor: places servers and forwards to their cell."""

import threading
import uuid

import oslo_messaging

import nova_fixtures

CELL_TIMEOUT = 60


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
        self._hosts = self._scheduler
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

    def _list_cell(self, cell, hosts):
        servers = []
        for host in hosts:
            servers.extend(self._compute(cell, host).prepare(
                timeout=CELL_TIMEOUT * 2).call({}, 'list_instances'))
        return sorted(servers)

    def list_servers(self, ctxt):
        """Every server, per cell; a cell that doesn't answer in time is
        reported as such (Nova's scatter_gather_cells)."""
        by_cell = {}
        for host, info in self._hosts.call(ctxt, 'list_hosts').items():
            by_cell.setdefault(info['cell'], []).append(host)
        results = nova_fixtures.scatter_gather(
            sorted(self._cells), lambda cell: self._list_cell(
                cell, sorted(by_cell.get(cell, []))), CELL_TIMEOUT)
        return {cell: ('did not respond'
                       if result is nova_fixtures.DID_NOT_RESPOND
                       else result)
                for cell, result in results.items()}

    def get_server(self, ctxt, server_id):
        with self._lock:
            where = self._placements.get(server_id)
        if where is None:
            raise ServerNotFound(server_id)
        return self._compute(where['cell'], where['host']).call(
            ctxt, 'get_instance', server_id=server_id)
