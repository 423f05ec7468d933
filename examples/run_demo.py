"""Run the example cloud's functional suite under stestr; print a summary.

Usage: ``python examples/run_demo.py [stestr run arguments]`` (``tox -e
demo``). Each test records the services it booted and the messages its
buses carried (``DEMO_STATS_DIR``); the summary adds them up.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile
import time


def main(argv):
    with tempfile.TemporaryDirectory(prefix='demo-stats-') as stats_dir:
        env = dict(os.environ, DEMO_STATS_DIR=stats_dir)
        start = time.perf_counter()
        rc = subprocess.call(
            [sys.executable, '-m', 'stestr', '--test-path=./examples',
             'run'] + argv, env=env)
        wall = time.perf_counter() - start
        stats = []
        for path in glob.glob(os.path.join(stats_dir, '*.json')):
            with open(path) as f:
                stats.append(json.load(f))
    print()
    print('Example cloud summary')
    print(f'  tests recorded:   {len(stats)}')
    print(f'  services booted:  {sum(s["services"] for s in stats)}')
    counted = [s['messages'] for s in stats if s['messages'] is not None]
    messages = sum(counted) if counted or not stats else 'n/a (real broker)'
    print(f'  messages carried: {messages}')
    print(f'  wall time:        {wall:.2f} s')
    print(f'  result:           {"passed" if rc == 0 else "FAILED"}')
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
