"""Print the behaviour table: each scenario on rabbit, memory:// and fake:.

Runs ``tests/functional/behaviour.py``'s scenarios on each transport (rabbit
when ``OS_TEST_TRANSPORT_URL`` is a rabbit:// URL, as under ``python -m
nova_fixtures.with_rabbitmq``) and prints, per scenario, whether each
transport did what RabbitMQ does (the expected outcome), the observed value
when it did not, and the wall time of each transport's whole run.
"""

import logging
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tests.functional import behaviour  # noqa: E402


def main():
    logging.basicConfig(level=logging.CRITICAL)
    transports = {}
    rabbit = os.environ.get('OS_TEST_TRANSPORT_URL', '')
    if rabbit.startswith('rabbit://'):
        transports['rabbit'] = lambda: rabbit
    transports['memory://'] = lambda: f'memory://t-{uuid.uuid4().hex[:8]}/'
    transports['fake:'] = lambda: 'fake:'
    rows, totals = [], {}
    for name, (_, expected) in behaviour.SCENARIOS.items():
        row = [name]
        for transport, url in transports.items():
            start = time.perf_counter()
            try:
                observed = behaviour.run(name, url())
            except Exception as exc:
                observed = f'{type(exc).__name__}: {exc}'[:60]
            totals[transport] = totals.get(transport, 0.0) + (
                time.perf_counter() - start)
            row.append('yes' if observed == expected else f'no: {observed}')
        rows.append(row)
    header = ['behaviour'] + list(transports)
    print(' | '.join(header))
    for row in rows:
        print(' | '.join(row))
    print('wall time | ' + ' | '.join(f'{totals[t]:.1f} s'
                                      for t in transports))
    return 0


if __name__ == '__main__':
    sys.exit(main())
