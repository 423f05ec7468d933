"""The usage poller: periodically asks every compute for its usage."""

from oslo_config import cfg
from oslo_service import periodic_task

POLL_SPACING = 0.05


class UsagePoller(periodic_task.PeriodicTasks):
    """Polls computes across cells; publishes ``usage.polled``."""

    def __init__(self, api_bus, cell_buses):
        super().__init__(cfg.ConfigOpts())
        self._scheduler = api_bus.rpc_client('scheduler', timeout=10)
        self._cells = dict(cell_buses)
        self._notifier = api_bus.notifier('poller')
        self.polls = 0

    def status(self, ctxt):
        return {'polls': self.polls}

    @periodic_task.periodic_task(spacing=POLL_SPACING, run_immediately=True)
    def _poll(self, context):
        used = 0
        hosts = self._scheduler.call({}, 'list_hosts')
        for host, info in sorted(hosts.items()):
            client = self._cells[info['cell']].rpc_client(
                'compute', server=host, timeout=10)
            used += client.call({}, 'get_usage')['used']
        self.polls += 1
        self._notifier.info({}, 'usage.polled',
                            {'hosts': len(hosts), 'used': used})
