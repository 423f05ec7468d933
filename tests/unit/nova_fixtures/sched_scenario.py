"""A fixed multi-thread scenario and what schedules decide in it, for
test_sched_pinned.py (not named test_*: nothing runs it by itself).

`record` runs the scenario under many seeds, strategies and forced
decision sets and returns what each run decided, with this directory's
paths cut out (a trace names lock sites by file and line), so that the
result can be compared with ``sched_pinned.json``, recorded on the
scheduler before it was split into strategies and a trace.

Don't edit this module: the locks' sites are its line numbers, and a line
moved changes every recorded trace. Regenerate the baseline only on
purpose (``python -m tests.unit.nova_fixtures.sched_scenario``), never to
make a failing comparison pass.
"""

import hashlib
import json
import os
import threading
import time

import fixtures

import nova_fixtures
from nova_fixtures import schedule

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, 'sched_pinned.json')

# NOTE(tests): (label, options): every strategy, PCT with change points
# that fall inside the run and outside it.
CONFIGS = [
    ('random', {'strategy': 'random'}),
    ('pct', {'strategy': 'pct'}),
    ('pct-d2-k20', {'strategy': 'pct', 'depth': 2, 'steps': 20}),
    ('pct-d3-k40', {'strategy': 'pct', 'depth': 3, 'steps': 40}),
    ('pct-d5-k60', {'strategy': 'pct', 'depth': 5, 'steps': 60}),
    ('pct-d1', {'strategy': 'pct', 'depth': 1, 'steps': 10}),
]
SEEDS = range(12)


def scenario():
    """Producers, a consumer on a condition, a thread that starts another,
    an event, virtual sleeps; the order things happened in."""
    lock = threading.Lock()
    cond = threading.Condition()
    ready = threading.Event()
    items = []
    log = []

    def produce(n):
        for i in range(3):
            with lock:
                log.append(['put', n, i])
            with cond:
                items.append([n, i])
                cond.notify()
            time.sleep(0.01)  # allow-sleep: virtual time

    def consume():
        ready.set()
        for _ in range(6):
            with cond:
                while not items:
                    cond.wait()
                got = items.pop(0)
            with lock:
                log.append(['got', *got])

    def start_another():
        ready.wait()
        inner = threading.Thread(target=produce, args=(1,), name='p1')
        inner.start()
        inner.join()

    threads = [threading.Thread(target=consume, name='c'),
               threading.Thread(target=produce, args=(0,), name='p0'),
               threading.Thread(target=start_another, name='s')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return log


def run(**options):
    """The scenario on a clock under a schedule: (its log, the result) or
    (None, the ScheduleError's first line)."""
    outer = fixtures.Fixture()
    outer.setUp()
    fixture = None
    try:
        try:
            outer.useFixture(nova_fixtures.ClockFixture())
            fixture = outer.useFixture(schedule.ScheduleFixture(**options))
            value = scenario()
        finally:
            outer.cleanUp()
    except schedule.ScheduleError as exc:
        return None, str(exc).splitlines()[0]
    return value, fixture.result()


def _local(text):
    """``text`` without this directory's absolute or relative path."""
    text = text.replace(HERE + os.sep, '<here>/')
    return text.replace(os.path.relpath(HERE) + os.sep, '<here>/')


def _digest(value):
    return hashlib.sha256(_local(repr(value)).encode()).hexdigest()[:16]


def summary(log, result):
    """What a run decided, path-free."""
    if log is None:
        return {'error': _local(result)}
    return {'log': _digest(log), 'steps': result.steps,
            'choices': result.choices, 'switches': result.switches,
            'preemptions': result.preemptions,
            'trace': _digest([list(e) for e in result.trace]),
            'decisions': _digest(result.decisions),
            'names': result.names and sorted(result.names.values()),
            'causes': [c for c in result.causes if 'string hashing' not in c]}


def record():
    """Every configuration, seed and forced set: label -> summary."""
    out = {}
    for label, options in CONFIGS:
        for seed in SEEDS:
            log, result = run(seed=seed, **options)
            out[f'{label}/{seed}'] = summary(log, result)
            if label != 'pct-d3-k40':
                continue
            decisions = result.decisions
            every = {tuple(d['key']): d['to'] for d in decisions}
            half = {json.dumps(d['key']): d['to'] for d in decisions[::2]}
            out[f'forced-all/{seed}'] = summary(*run(seed=0, forced=every))
            out[f'forced-half/{seed}'] = summary(*run(seed=seed,
                                                      forced=half))
            out[f'expected/{seed}'] = summary(*run(
                seed=seed, expected=result.trace, **options))
            changed = [list(e) for e in result.trace]
            changed[len(changed) // 2][3] = 99
            out[f'diverged/{seed}'] = summary(*run(
                seed=seed, expected=changed, **options))
            longer = changed[:len(changed) // 2] + [list(e) for e in
                                                    result.trace[
                                                        len(changed) // 2:]]
            longer.append([0, 'acquire', 'nowhere', 0])
            out[f'short/{seed}'] = summary(*run(
                seed=seed, expected=longer, **options))
    return out


if __name__ == '__main__':
    with open(BASELINE, 'w') as f:
        json.dump(record(), f, indent=0, sort_keys=True)
        f.write('\n')
