"""An OpenStack project's own tests, unedited, stock and under the library.

The machinery of ``tox -e nova``, ``tox -e ceilometer`` and ``tox -e
mistral``: the project is installed from PyPI into the tox env, and its
tests run with ``stestr --concurrency N`` from a scratch directory whose
``.stestr.conf`` points into site-packages, once per mode:

* ``fake``: stock, as the project runs them (``fake:`` transport);
* ``memory``: ``python -m nova_fixtures.run --transport memory -- stestr
  run ...``;
* ``clock``: the same with ``--clock``;
* ``deadlocks``: the same with ``--clock --deadlocks``.

Each mode runs under a wall-time cap. stestr's subunit stream is read as
it arrives, so a run whose tests have all reported but whose workers
don't exit within ``--grace`` seconds (30), or any run still going at
``--cap``, is a HANG: every Python worker is sent SIGABRT
(``PYTHONFAULTHANDLER=1`` is set in every mode, so each dumps its
threads' stacks into the mode's log; faulthandler acts on fatal signals
only) and then the process group the
run started in is killed by its id. Its CPU is read from ``/proc`` before
the kill, as ``RUSAGE_CHILDREN`` can't see killed workers.

``python benchmarks/suite_bench.py ceilometer|mistral [options]`` runs one
of `SUITES` (``tox -e ceilometer`` and ``tox -e mistral`` do); for each
mode it prints tests passed, failed and skipped, wall, CPU, and whether
the workers exited, then the set difference: the tests that pass stock
and don't pass in a mode of the library, with the start of each one's
failure. It exits 1 if that set is not empty in any mode or any mode hung.
``--sample N --seed S`` runs the same seeded sample of N tests in every
mode instead of the whole suite.

``benchmarks/nova_bench.py`` uses `run_mode` and `Tally` with its own
slice, table and targets.
"""

import argparse
import collections
import dataclasses
import importlib.metadata
import importlib.util
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import subunit
import testtools

STESTR = [sys.executable, '-m', 'stestr']
RUN = [sys.executable, '-m', 'nova_fixtures.run']
LIBRARY = {
    'memory': ['--transport', 'memory'],
    'clock': ['--transport', 'memory', '--clock'],
    'deadlocks': ['--transport', 'memory', '--clock', '--deadlocks'],
    'fake-clock': ['--clock'],
    'fake-deadlocks': ['--deadlocks'],
}
MODES = ('fake',) + tuple(LIBRARY)
TITLES = {'fake': 'fake: (stock)', 'memory': 'memory://',
          'clock': 'memory:// + clock',
          'deadlocks': 'memory:// + clock + deadlocks',
          'fake-clock': 'fake: + clock', 'fake-deadlocks': 'fake: + deadlocks'}
_DIFFERENCES = re.compile(r'^fake: differences: (\d+) place')
FAILED = ('fail', 'uxsuccess')
_COUNTED = re.compile(rb'^(\d+) message\(s\)')
_RETURNCODE = 'process-returncode'
_SCENARIO = re.compile(r'\(.*\)$')
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


@dataclasses.dataclass(frozen=True)
class Suite:
    """One project's tests, as a mode runs them."""

    name: str                  # as printed: 'Ceilometer 27.0.0 unit'
    package: str               # the import name, 'ceilometer'
    test_path: str             # under site-packages: 'ceilometer/tests/unit'
    env: tuple = ()            # (name, value) set in every mode
    options: tuple = ()        # nova_fixtures.run options beyond the mode's
    etc: bool = False          # link <prefix>/etc next to the package
    cap: float = 900.0         # a whole run's wall-time cap, per mode
    modes: str = 'fake,clock,deadlocks'
    tests: str = ''            # a regex the test ids must match: a part


SUITES = {
    # Ceilometer's tox runs `stestr run` on ceilometer/tests/unit; its
    # tests never import eventlet (nor monkey-patch), so there is no
    # threading switch to set: this is its stock configuration.
    'ceilometer': Suite(
        name='Ceilometer unit', package='ceilometer',
        test_path='ceilometer/tests/unit', etc=True, cap=900.0),
    # Mistral's tox sets OS_TEST_TIMEOUT=160 and the *_CAPTURE variables;
    # mistral/tests/unit/__init__.py itself picks oslo.service's threading
    # backend (no eventlet patching). test_path is the engine package
    # only: discovery of the whole unit tree imports the hacking checks,
    # which need pycodestyle.
    'mistral': Suite(
        name='Mistral unit engine', package='mistral',
        test_path='mistral/tests/unit/engine',
        env=(('OS_TEST_TIMEOUT', '160'), ('OS_STDOUT_CAPTURE', '1'),
             ('OS_STDERR_CAPTURE', '1')),
        cap=1500.0),
    # Designate's tox runs stestr on designate/tests; its tests package
    # picks oslo.service's threading backend itself. The functional
    # modules issue 20 names: 149 tests. Its API tests lean on fake:
    # handing MessagingTimeout through (a 504); under the library they
    # run with --fake-compat and the differences report lists them.
    'designate': Suite(
        name='Designate functional', package='designate',
        test_path='designate/tests/functional',
        tests=(r'designate\.tests\.functional\.(api\.v2\.test_(zones|'
               r'import_export|zone_exports|zone_transfers)|producer|worker|'
               r'mdns)\.'),
        options=('--fake-compat',), cap=900.0,
        modes='fake,fake-clock,memory,deadlocks,fake-deadlocks'),
}


def site_of(package):
    """The site-packages directory ``package`` is installed in."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f'{package} is not installed here: run this through '
                 f'tox -e {package}')
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def link_etc(site, package):
    """Put the project's etc/ where its tests look for it.

    The wheel installs ``etc/<package>`` under the environment's prefix,
    the tests look for it next to the package (a source tree's layout).
    """
    wanted = os.path.join(site, 'etc')
    installed = os.path.join(sys.prefix, 'etc')
    if not os.path.exists(os.path.join(wanted, package)):
        if not os.path.exists(os.path.join(installed, package)):
            sys.exit(f'no etc/{package} under {sys.prefix}: is {package} '
                     f'installed from its wheel?')
        os.symlink(installed, wanted)


def environ(extra=()):
    """The environment of every mode: the tox env's bin first on PATH (the
    tests start the project's console scripts), faulthandler on."""
    env = dict(os.environ)
    env.update(extra)
    bindir = os.path.dirname(sys.executable)
    env['PATH'] = bindir + os.pathsep + env.get('PATH', '')
    env['PYTHONFAULTHANDLER'] = '1'
    return env


def read_list(path):
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


class Tally(testtools.StreamResult):
    """Outcomes, the details the fixtures attach, and each failure's
    traceback, from a subunit stream, as it arrives."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.outcomes = {}
        self.started = set()
        self.messages = 0
        self.reports = collections.Counter()
        self.details = {}
        self.durations = {}
        self._starts = {}
        self.last = time.monotonic()
        self._parts = collections.defaultdict(bytes)

    def status(self, test_id=None, test_status=None, file_name=None,
               file_bytes=None, eof=False, **kwargs):
        with self.lock:
            self.last = time.monotonic()
            stamp = kwargs.get('timestamp')
            if test_status == 'inprogress':
                self.started.add(test_id)
                if stamp is not None:
                    self._starts[test_id] = stamp
            elif test_status in ('success', 'fail', 'skip', 'xfail',
                                 'uxsuccess'):
                self.outcomes[test_id] = test_status
                begun = self._starts.get(test_id)
                if begun is not None and stamp is not None:
                    self.durations[test_id] = (stamp - begun) \
                        .total_seconds()
            if file_name is None:
                return
            key = (test_id, file_name)
            self._parts[key] += bytes(file_bytes or b'')
            if not eof:
                return
            content = self._parts.pop(key)
            if file_name == 'fake-transport:counts':
                found = _COUNTED.match(content)
                if found:
                    self.messages += int(found.group(1))
            elif file_name == 'nova-fixtures:deadlocks' and content.strip():
                self.reports[test_id] += 1
            elif file_name in ('traceback', 'reason') and content.strip():
                self.details[test_id] = content.decode('utf-8', 'replace')

    def passed(self):
        with self.lock:
            return {t for t, s in self.outcomes.items() if s == 'success'}

    def count(self, *statuses):
        with self.lock:
            return sum(1 for t, s in self.outcomes.items()
                       if s in statuses and t != _RETURNCODE)

    def failed(self):
        with self.lock:
            return sorted(t for t, s in self.outcomes.items()
                          if s in FAILED and t != _RETURNCODE)

    def returncode_failed(self):
        """A worker exited non-zero (stestr reports it as a test)."""
        with self.lock:
            return self.outcomes.get(_RETURNCODE) in FAILED


def _proc_stat(pid):
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b')') + 2:].split()
    # fields[0] is state (field 3): ppid 4, session 6, utime 14 .. cstime 17
    return {'ppid': int(fields[1]), 'session': int(fields[3]),
            'cpu': sum(int(x) for x in fields[11:15]) / _CLOCK_TICKS}


def _session(sid):
    """The live processes of session ``sid``: {pid: stat}."""
    members = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            stat = _proc_stat(int(name))
            if stat is not None and stat['session'] == sid:
                members[int(name)] = stat
    return members


def _is_python(pid):
    try:
        return os.path.basename(os.readlink(f'/proc/{pid}/exe')) \
            .startswith('python')
    except OSError:
        return False


def _stop(proc, log):
    """End a hung run: SIGABRT to its Python workers (faulthandler dumps
    their stacks into the log), then SIGKILL to its process group, both by
    id. Returns the CPU seconds of the session's processes before the
    kill."""
    members = _session(proc.pid)
    cpu = sum(m['cpu'] for m in members.values())
    workers = [pid for pid in members if pid != proc.pid and _is_python(pid)]
    with open(log, 'ab') as f:
        f.write(f'\n=== suite_bench: HANG: SIGABRT to workers '
                f'{workers} for their stacks ===\n'.encode())
    for pid in workers:  # one at a time, so that dumps don't interleave
        try:
            os.kill(pid, signal.SIGABRT)
        except ProcessLookupError:
            pass
        time.sleep(1.5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return cpu


def base_id(test_id):
    """A test's id less a testscenarios suffix: ``test_x(scenario)``."""
    return _SCENARIO.sub('', test_id)


def unreported(tests, outcomes, expected=None):
    """The tests that have not reported an outcome.

    ``expected``: the exact ids a complete run reports (a stock run's);
    without it, a listed id counts as reported once it or one of its
    scenarios (``stestr list`` shows ids before scenarios multiply them)
    has.
    """
    if expected is not None:
        return sorted(set(expected) - outcomes.keys())
    seen = set(outcomes) | {base_id(t) for t in outcomes}
    return [t for t in tests if t not in seen]


def run_mode(mode, site, test_path, tests, concurrency, *, env=(),
             options=(), cap=900.0, grace=60.0, prefix='suite-bench',
             expected=None):
    """Run ``tests`` (ids) of ``site/test_path`` in one mode, under a cap.

    ``expected``: the exact ids a complete run reports (see `unreported`).

    :returns: a dict: mode, wall, cpu, tally, hang (None, 'at exit' or
        'in tests'), never (the tests that never reported), log and work
        (the scratch directory).
    """
    work = tempfile.mkdtemp(prefix=f'{prefix}-{mode}-')
    with open(os.path.join(work, '.stestr.conf'), 'w') as f:
        f.write(f'[DEFAULT]\ntest_path={site}/{test_path}\n'
                f'top_dir={site}\n')
    with open(os.path.join(work, 'tests.txt'), 'w') as f:
        f.write('\n'.join(tests) + '\n')
    env = environ(env)
    subprocess.run(STESTR + ['init'], cwd=work, env=env, check=True,
                   capture_output=True)
    command = STESTR + ['run', '--subunit', '--concurrency',
                        str(concurrency), '--load-list', 'tests.txt']
    if mode != 'fake':
        # NOTE(suite_bench): the suite's options (--fake-compat) act on the
        # memory transport: the fake: modes don't get them.
        extra = list(options) if '--transport' in LIBRARY[mode] else []
        command = RUN + LIBRARY[mode] + extra + ['--'] + command
    log = os.path.join(work, 'output.txt')
    stream = os.path.join(work, 'subunit.bin')
    tally = Tally()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    # NOTE(suite_bench): appending, so that what _stop writes and what the
    # workers print after it don't overwrite each other.
    with open(log, 'ab') as err:
        proc = subprocess.Popen(command, cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)

    def read():
        with open(stream, 'wb') as out:
            class Tee:
                def read(self, n=-1):
                    data = proc.stdout.read(n)
                    out.write(data)
                    return data

                def readline(self):
                    data = proc.stdout.readline()
                    out.write(data)
                    return data
            subunit.ByteStreamToStreamResult(
                Tee(), non_subunit_name='stdout').run(tally)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    hang = None
    all_in = None
    while proc.poll() is None:
        time.sleep(1)
        now = time.monotonic()
        with tally.lock:
            reported = not unreported(tests, tally.outcomes, expected)
        if reported and all_in is None:
            all_in = now
        if now - start > cap or (all_in is not None and
                                 now - all_in > grace and
                                 proc.poll() is None):
            hang = 'at exit' if reported else 'in tests'
            break
    if hang:
        cpu = _stop(proc, log)
    else:
        proc.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + \
            (after.ru_stime - before.ru_stime)
    wall = time.monotonic() - start
    reader.join(10)
    with tally.lock:
        never = unreported(tests, tally.outcomes, expected)
    return {'mode': mode, 'wall': wall, 'cpu': cpu, 'tally': tally,
            'hang': hang, 'log': log, 'work': work, 'never': never,
            'all_in': None if all_in is None else all_in - start}


def list_tests(site, test_path, env=()):
    """Every test id under ``site/test_path``, as stestr lists them."""
    work = tempfile.mkdtemp(prefix='suite-bench-list-')
    try:
        with open(os.path.join(work, '.stestr.conf'), 'w') as f:
            f.write(f'[DEFAULT]\ntest_path={site}/{test_path}\n'
                    f'top_dir={site}\n')
        subprocess.run(STESTR + ['init'], cwd=work, check=True,
                       capture_output=True)
        done = subprocess.run(STESTR + ['list'], cwd=work, env=environ(env),
                              capture_output=True, text=True)
        tests = [line for line in done.stdout.splitlines()
                 if re.match(r'^[\w.]+\.\w', line) and ' ' not in line]
        if done.returncode or not tests:
            sys.exit(f'stestr list failed:\n{done.stdout}\n{done.stderr}')
        return tests
    finally:
        shutil.rmtree(work)


def sample(tests, n, seed):
    """A seeded sample of ``n`` of ``tests``, the same for every mode."""
    if n >= len(tests):
        return sorted(tests)
    return sorted(random.Random(seed).sample(sorted(tests), n))


def fake_differences(log):
    """The fake: differences report nova_fixtures.run printed in ``log``:
    its header, then a line per difference; [] if none."""
    with open(log, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if _DIFFERENCES.match(line):
            found = [line]
            for more in lines[i + 1:]:
                if not more.startswith('  '):
                    break
                found.append(more)
            return found
    return []


def hang_stacks(log, lines=80):
    """What the workers' faulthandler printed on SIGABRT: each distinct
    thread stack once, innermost frame first, with how many threads of
    the hung workers had it."""
    with open(log, 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
    marker = text.rfind('=== suite_bench: HANG')
    if marker < 0:
        return ''
    stacks = collections.Counter()
    current = None
    for line in text[marker:].splitlines()[1:]:
        if line.startswith(('Thread 0x', 'Current thread 0x')):
            if current is not None:
                stacks[tuple(current)] += 1
            current = ['(main thread)' if line.startswith('Current')
                       else '(thread)']
        elif line.startswith('  File ') and current is not None:
            current.append(line.strip())
        else:
            if current is not None:
                stacks[tuple(current)] += 1
            current = None
    if current is not None:
        stacks[tuple(current)] += 1
    out = []
    for stack, n in stacks.most_common():
        if len(stack) < 2:
            continue
        out.append(f'{n} {stack[0][1:-1]}(s):')
        out.extend('  ' + frame for frame in stack[1:])
    return excerpt('\n'.join(out), lines)


def excerpt(text, lines=15):
    """The first lines of a failure, indented."""
    out = text.strip('\n').splitlines()
    shown = out[:lines] + ([f'... ({len(out) - lines} more lines)']
                           if len(out) > lines else [])
    return '\n'.join('      ' + line for line in shown)


def why(result, test):
    """How ``test`` ended in one mode's result."""
    tally = result['tally']
    status = tally.outcomes.get(test)
    if status is not None:
        return {'fail': 'FAILED', 'uxsuccess': 'unexpected success',
                'skip': 'skipped', 'xfail': 'expected failure'}.get(
                    status, status)
    if test in tally.started:
        return 'HANG (started, never reported)'
    return 'never ran (killed before it started)' if result['hang'] \
        else 'never ran'


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='An OpenStack project\'s tests, stock and under '
                    'nova_fixtures.run, with the set difference.')
    parser.add_argument('suite', choices=sorted(SUITES))
    parser.add_argument('--modes', help='comma-separated, of '
                        f'{", ".join(MODES)} (default: the suite\'s)')
    parser.add_argument('--concurrency', type=int, default=2)
    parser.add_argument('--sample', type=int, metavar='N',
                        help='a seeded sample of N tests instead of all')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='the sample\'s seed (default 0)')
    parser.add_argument('--tests', metavar='FILE',
                        help='a file of test ids, one per line')
    parser.add_argument('--cap', type=float, metavar='SECONDS',
                        help='wall-time cap of each mode (default: the '
                             'suite\'s, scaled to a sample, >= 300 s)')
    parser.add_argument('--grace', type=float, default=30.0,
                        help='seconds the workers get to exit once every '
                             'test has reported (default 30)')
    parser.add_argument('--show', type=int, default=10, metavar='N',
                        help='print the start of up to N failures a mode')
    parser.add_argument('--keep', action='store_true',
                        help='keep every mode\'s stestr directory')
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    modes = [m for m in (args.modes or suite.modes).split(',') if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f'unknown mode(s) {", ".join(unknown)}; choose from '
                     f'{", ".join(MODES)}')
    site = site_of(suite.package)
    if suite.etc:
        link_etc(site, suite.package)
    version = importlib.metadata.version(suite.package)
    everything = list_tests(site, suite.test_path, suite.env)
    if suite.tests:
        everything = [t for t in everything if re.match(suite.tests, t)]
    if args.tests:
        tests = read_list(args.tests)
        chosen = f'{len(tests)} tests from {args.tests}'
    elif args.sample:
        tests = sample(everything, args.sample, args.seed)
        chosen = (f'a sample of {len(tests)} of {len(everything)} tests, '
                  f'seed {args.seed}')
    else:
        tests = sorted(everything)
        chosen = f'all {len(tests)} tests'
    cap = args.cap or max(300.0, suite.cap * len(tests) / len(everything))
    print(f'{suite.name} ({suite.package} {version}, '
          f'{suite.test_path}): {chosen}, --concurrency '
          f'{args.concurrency}, cap {cap:.0f} s a mode', flush=True)
    print(f'{"mode":30} {"passed":>6} {"failed":>6} {"skipped":>7} '
          f'{"wall":>8} {"CPU":>8} {"messages":>9} {"reports":>7}  '
          f'workers', flush=True)
    results = {}
    expected = None
    for mode in modes:
        r = results[mode] = run_mode(
            mode, site, suite.test_path, tests, args.concurrency,
            env=suite.env, options=suite.options, cap=cap, grace=args.grace,
            prefix=f'{args.suite}-bench', expected=expected)
        tally = r['tally']
        if mode == 'fake' and not r['hang']:
            # what the later modes must report: ids with their scenarios
            expected = set(tally.outcomes) - {_RETURNCODE}
        failed = tally.failed()
        skipped = tally.count('skip', 'xfail')
        messages = f'{tally.messages:,}' if mode != 'fake' else '-'
        if r['hang'] == 'at exit':
            exited = (f'HANG at exit (all reported by '
                      f'{r["all_in"]:.0f} s)')
        elif r['hang']:
            exited = 'HANG in tests'
        else:
            exited = 'exited' + (' (one non-zero)'
                                 if tally.returncode_failed() else '')
        print(f'{TITLES[mode]:30} {tally.count("success"):6} '
              f'{len(failed):6} {skipped:7} {r["wall"]:7.1f}s '
              f'{r["cpu"]:7.1f}s {messages:>9} '
              f'{sum(tally.reports.values()):7}  {exited}', flush=True)
        never = r['never']
        if r['hang']:
            started = [t for t in never if t in tally.started]
            print(f'  HANG: killed after {r["wall"]:.0f} s; '
                  f'{len(never)} test(s) never reported, {len(started)} '
                  f'of them started:')
            for test in (started + [t for t in never
                                    if t not in started])[:50]:
                print(f'    {test}')
            if len(never) > 50:
                print(f'    ... and {len(never) - 50} more')
            stacks = hang_stacks(r['log'])
            if stacks:
                print('  the hung workers\' threads (faulthandler, '
                      'innermost first):')
                print(stacks)
        elif never:
            print(f'  {len(never)} test(s) never reported')
        for test in tally.reports:
            print(f'  REPORT {test}')
        found = fake_differences(r['log'])
        if found:
            print(f'  {found[0]}')
            for line in found[1:args.show + 1]:
                print(f'  {line}')
            if len(found) > args.show + 1:
                print(f'    ... and {len(found) - args.show - 1} more')
        if failed or never or r['hang'] or tally.reports or args.keep:
            print(f'  stestr directory, subunit.bin and output.txt (the '
                  f'workers\' stderr): {r["work"]}')
        else:
            shutil.rmtree(r['work'])
    bad = any(r['hang'] for r in results.values())
    print()
    if 'fake' in results:
        stock = results['fake']['tally'].passed()
        for mode, r in results.items():
            if mode == 'fake':
                continue
            lost = sorted(stock - r['tally'].passed())
            print(f'{TITLES[mode]}: {len(lost)} test(s) pass stock and '
                  f'don\'t pass here')
            for i, test in enumerate(lost):
                print(f'  {test}: {why(r, test)}')
                detail = r['tally'].details.get(test)
                if detail and i < args.show:
                    print(excerpt(detail))
            bad = bad or bool(lost)
        if results['fake']['tally'].failed():
            print(f'stock failures (the baseline; they don\'t fail this '
                  f'run): {", ".join(results["fake"]["tally"].failed())}')
    else:
        print('no stock run: every failure in a mode of the library counts')
        for mode, r in results.items():
            for i, test in enumerate(r['tally'].failed()):
                print(f'  {TITLES[mode]}: FAILED {test}')
                detail = r['tally'].details.get(test)
                if detail and i < args.show:
                    print(excerpt(detail))
                bad = True
    if 'fake' in results:
        stock = results['fake']['tally'].durations
        for mode, r in results.items():
            if mode == 'fake':
                continue
            here = r['tally'].durations
            slower = sorted(((here[t], stock[t], t) for t in here
                             if t in stock and here[t] > 10 and
                             here[t] > 2 * stock[t]), reverse=True)
            if slower:
                print(f'{TITLES[mode]}: {len(slower)} test(s) took over '
                      f'10 s and twice their stock time (real-time '
                      f'waits?):')
                for took, was, test in slower[:5]:
                    print(f'  {took:6.1f} s (stock {was:5.1f} s) {test}')
    if 'fake' in results and 'clock' in results:
        clock = results['clock']
        speed = results['fake']['wall'] / clock['wall']
        note = ''
        if clock['hang'] == 'at exit':
            # the wall of a hang at exit counts the grace and the kill
            speed = results['fake']['wall'] / clock['all_in']
            note = ' (to the clock run\'s last report: it hung at exit)'
        print(f'clock wall speed-up over stock: {speed:.2f}x{note}')
    print(f'{suite.name}: {"FAILED" if bad else "OK"} (a hang, or a test '
          f'that passes stock and not under the library, fails the run)')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
