"""``python -m nova_fixtures.with_rabbitmq <command...>``: run a command
with a private RabbitMQ on 127.0.0.1 (see `nova_fixtures.rabbitmq`)."""

import sys

from nova_fixtures import rabbitmq

if __name__ == '__main__':
    sys.exit(rabbitmq.main(['run', '--'] + sys.argv[1:]))
