"""RabbitMQFixture: a private RabbitMQ on 127.0.0.1, and a runner around it.

Boots Debian's ``rabbitmq-server`` (``apt-get install rabbitmq-server``)
as a private node: its own data dir, AMQP and distribution ports, epmd
port, cookie and empty plugin list, everything bound to 127.0.0.1. Boot
takes about 13 s, so boot once per run: ``python -m nova_fixtures.with_rabbitmq
<command>`` boots a node, runs the command with
``OS_TEST_TRANSPORT_URL`` (and oslo.messaging's ``RPC_TRANSPORT_URL`` /
``NOTIFY_TRANSPORT_URL``) pointing at it, and stops it. While it runs,
`TransportFixture` gives each test a vhost of its own on that node
(``NOVA_FIXTURES_RABBITMQ`` tells it how to reach ``rabbitmqctl``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import fixtures

__all__ = ['RabbitMQFixture', 'RabbitMQUnavailable', 'add_vhost',
           'delete_vhost', 'main']

SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'
ENV_CONTROL = 'NOVA_FIXTURES_RABBITMQ'


class RabbitMQUnavailable(RuntimeError):
    """rabbitmq-server is not installed or did not boot."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _ctl(env: dict[str, str], *args: str) -> None:
    subprocess.run([CTL, '-q', *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=120)


def add_vhost(env: dict[str, str], vhost: str) -> None:
    """Create ``vhost`` and let ``guest`` use it."""
    _ctl(env, 'add_vhost', vhost)
    _ctl(env, 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*')


def delete_vhost(env: dict[str, str], vhost: str) -> None:
    _ctl(env, 'delete_vhost', vhost)


class RabbitMQFixture(fixtures.Fixture):
    """A private RabbitMQ node on 127.0.0.1, stopped at cleanup.

    :ivar url: ``rabbit://guest:guest@127.0.0.1:<port>/``.
    :ivar env: the environment ``rabbitmqctl`` needs to reach the node.
    :ivar boot_seconds: how long the boot took.
    """

    def __init__(self, boot_timeout: float = 120.0) -> None:
        super().__init__()
        self.boot_timeout = boot_timeout

    def _setUp(self) -> None:
        if not os.path.exists(SERVER):
            raise RabbitMQUnavailable(
                f'{SERVER} not found: apt-get install rabbitmq-server')
        base = tempfile.mkdtemp(prefix='rabbitmq-')
        self.addCleanup(shutil.rmtree, base, True)
        port, dist, epmd = _free_port(), _free_port(), _free_port()
        ctl_port = _free_port()
        node = f'nf{uuid.uuid4().hex[:8]}@localhost'
        for name, text in (
                ('rabbitmq.conf',
                 f'listeners.tcp.1 = 127.0.0.1:{port}\n'
                 'loopback_users.guest = true\n'
                 'disk_free_limit.absolute = 50MB\n'
                 'log.console = false\n'),
                ('advanced.config', '[].\n'),
                ('enabled_plugins', '[].\n'),
                ('rabbitmq-env.conf', '')):
            with open(os.path.join(base, name), 'w') as f:
                f.write(text)
        os.makedirs(os.path.join(base, 'log'))
        interface = '-kernel inet_dist_use_interface {127,0,0,1}'
        env = dict(
            os.environ, HOME=base,
            RABBITMQ_CONF_ENV_FILE=os.path.join(base, 'rabbitmq-env.conf'),
            RABBITMQ_NODENAME=node, RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(port), RABBITMQ_DIST_PORT=str(dist),
            ERL_EPMD_ADDRESS='127.0.0.1', ERL_EPMD_PORT=str(epmd),
            RABBITMQ_CONFIG_FILE=os.path.join(base, 'rabbitmq.conf'),
            RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(base,
                                                       'advanced.config'),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(base,
                                                       'enabled_plugins'),
            RABBITMQ_MNESIA_BASE=os.path.join(base, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(base, 'log'),
            RABBITMQ_PID_FILE=os.path.join(base, 'rabbitmq.pid'),
            RABBITMQ_CTL_DIST_PORT_MIN=str(ctl_port),
            RABBITMQ_CTL_DIST_PORT_MAX=str(ctl_port + 10),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=interface,
            RABBITMQ_CTL_ERL_ARGS=interface)
        self.env = env
        log = open(os.path.join(base, 'log', 'stdout.log'), 'wb')
        self.addCleanup(log.close)
        start = time.monotonic()
        process = subprocess.Popen([SERVER], env=env, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        self.addCleanup(self._stop, process, env)
        deadline = start + self.boot_timeout
        while True:
            if process.poll() is not None:
                raise RabbitMQUnavailable(
                    f'rabbitmq-server exited with {process.returncode} '
                    f'while booting; see {base}/log')
            try:
                socket.create_connection(('127.0.0.1', port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RabbitMQUnavailable(
                        f'rabbitmq-server did not open 127.0.0.1:{port} '
                        f'within {self.boot_timeout:g} s')
                # NOTE(rabbitmq): waiting for an external process to open
                # its port; there is nothing to wait on but the clock.
                time.sleep(0.2)
        self.boot_seconds = time.monotonic() - start
        self.port = port
        self.url = f'rabbit://guest:guest@127.0.0.1:{port}/'

    @staticmethod
    def _stop(process: subprocess.Popen[bytes], env: dict[str, str]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # NOTE(rabbitmq): the private epmd this node started.
        epmd = shutil.which('epmd') or '/usr/lib/erlang/bin/epmd'
        subprocess.run([epmd, '-port', env['ERL_EPMD_PORT'], '-kill'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, check=False)


def control_env() -> dict[str, str] | None:
    """The rabbitmqctl environment a runner exported, if any."""
    text = os.environ.get(ENV_CONTROL)
    return json.loads(text) if text else None


def main(argv: list[str] | None = None) -> int:
    """``python -m nova_fixtures.with_rabbitmq <command...>``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != 'run' or args[1] != '--':
        print('usage: python -m nova_fixtures.with_rabbitmq <command...>',
              file=sys.stderr)
        return 2

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    # NOTE(rabbitmq): a runner killed by timeout still stops its node.
    signal.signal(signal.SIGTERM, stop)
    with RabbitMQFixture() as rabbit:
        print(f'RabbitMQ booted in {rabbit.boot_seconds:.1f} s at '
              f'{rabbit.url}', flush=True)
        keep = {k: v for k, v in rabbit.env.items()
                if k.startswith(('RABBITMQ_', 'ERL_', 'HOME'))}
        env: dict[str, Any] = dict(
            os.environ, OS_TEST_TRANSPORT_URL=rabbit.url,
            RPC_TRANSPORT_URL=rabbit.url, NOTIFY_TRANSPORT_URL=rabbit.url)
        env[ENV_CONTROL] = json.dumps(keep)
        return subprocess.call(args[2:], env=env)


if __name__ == '__main__':
    sys.exit(main())
