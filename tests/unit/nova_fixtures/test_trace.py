"""The trace of a scheduled run, its formats, and the words of reports."""

import io
import os

import fixtures
import testtools

from nova_fixtures import _sched_text
from nova_fixtures import _trace

NAMES = {0: 'MainThread', 1: 'w1'}
# NOTE(tests): the files hunt wrote before the trace had a module.
OLD_TRACE_FILE = '[[0, "start", "w1", 0], [null, "wake", "", 1]]'
OLD_FORCED_FILE = '{"[0, \\"acquire\\", \\"/x.py:3\\", 2]": 1}'


class TestTrace(testtools.TestCase):

    def test_steps_keys_and_decisions(self):
        trace = _trace.Trace()
        self.assertEqual([0, 1, 0], [trace.reach(0, 'acquire', 'a'),
                                     trace.reach(0, 'acquire', 'a'),
                                     trace.reach(1, 'acquire', 'a')])
        trace.decided((0, 'acquire', 'a', 1), 1, ('enter', ''))
        self.assertEqual(
            {'key': [0, 'acquire', 'a', 1], 'to': 1, 'text': 'x'},
            trace.decisions[0].as_json('x'))
        self.assertIsNone(trace.record((0, 'acquire', 'a', 1)))
        self.assertEqual([(0, 'acquire', 'a', 1)], list(trace))
        self.assertEqual(1, len(trace))

    def test_fingerprint_digests_the_entries_reprs(self):
        trace = _trace.Trace()
        trace.record((0, 'start', 'w1', 0))
        trace.record((None, 'wake', '', 1))
        # NOTE(tests): the value the scheduler gave before the trace had
        # a module: a seed's fingerprint stays what it was.
        self.assertEqual('c6612f29af2f0973', trace.fingerprint())

    def test_a_replay_that_leaves_the_recording(self):
        trace = _trace.Trace([[0, 'start', 'w1', 0], [1, 'exit', 'w1', 0]])
        self.assertIsNone(trace.record((0, 'start', 'w1', 0)))
        found = trace.record((0, 'start', 'w1', 1))
        self.assertEqual(_trace.Divergence(1, (1, 'exit', 'w1', 0),
                                           (0, 'start', 'w1', 1), 2), found)
        # NOTE(tests): only the first divergence counts.
        self.assertIsNone(trace.record((0, 'x', '', 0)))
        self.assertIsNone(trace.ended())
        self.assertEqual(
            'the replay diverged at step 2: recorded "w1" at exit w1 -> '
            '"MainThread", now "MainThread" at start w1 -> "w1"\nat:\n'
            '    here',
            _sched_text.divergence(found, NAMES, ['    here']))

    def test_a_replay_longer_or_shorter_than_the_recording(self):
        trace = _trace.Trace([[0, 'start', 'w1', 0]])
        trace.record((0, 'start', 'w1', 0))
        found = trace.record((1, 'exit', 'w1', 0))
        self.assertEqual(
            'the replay diverged at step 2: the recorded run ended after 1 '
            'steps\nat:', _sched_text.divergence(found, NAMES))
        short = _trace.Trace([[0, 'start', 'w1', 0], [2, 'exit', 'w2', 0]])
        short.record((0, 'start', 'w1', 0))
        self.assertEqual(
            'the replay diverged at step 2: it ended there, the recorded '
            'run went on to step 2 (next: "thread #2" at exit w2 -> '
            '"MainThread")', _sched_text.divergence(short.ended(), NAMES))
        self.assertIsNone(_trace.Trace().ended())

    def test_bad_recordings(self):
        for entries, text in [
                ([[0, 'start', 'w1']], "trace step 1: [0, 'start', 'w1'] "
                                       "is not [tid, kind, what, chosen "
                                       "tid]"),
                ([[0, 'a', 'b', 0], ['0', 'a', 'b', 0]],
                 "trace step 2: ['0', 'a', 'b', 0] is not [tid, kind, "
                 "what, chosen tid]")]:
            error = self.assertRaises(ValueError, _trace.Trace, entries)
            self.assertEqual(text, str(error))


class TestForced(testtools.TestCase):

    def test_keys_as_tuples_or_json(self):
        forced = _trace.parse_forced({
            '[null, "wake", "", 0]': 1, (0, 'acquire', '/x.py:3', 2): 0})
        self.assertEqual({(None, 'wake', '', 0): 1,
                          (0, 'acquire', '/x.py:3', 2): 0}, forced)
        decisions = [{'key': [0, 'acquire', '/x.py:3', 2], 'to': 1,
                      'text': 'ignored'}]
        self.assertEqual({'[0, "acquire", "/x.py:3", 2]': 1},
                         _trace.forced_json(decisions))

    def test_bad_forced_decisions(self):
        for forced, text in [
                ({'[0, "a"]': 1}, """forced decision '[0, "a"]': the key """
                                  """is not [tid, kind, what, n]"""),
                ({'nope': 1}, "forced decision 'nope': the key is not "
                              "[tid, kind, what, n]"),
                ({(0, 'a', 'b', -1): 1}, "forced decision (0, 'a', 'b', "
                                         "-1): the key is not [tid, kind, "
                                         "what, n]"),
                ({(0, 'a', 'b', 0): None}, "forced decision (0, 'a', 'b', "
                                           "0): None is not a thread "
                                           "number")]:
            error = self.assertRaises(ValueError, _trace.parse_forced,
                                      forced)
            self.assertEqual(text, str(error))


class TestFiles(testtools.TestCase):

    def test_old_files_read(self):
        self.assertEqual(
            [(0, 'start', 'w1', 0), (None, 'wake', '', 1)],
            _trace.read_entries(io.StringIO(OLD_TRACE_FILE)))
        self.assertEqual({(0, 'acquire', '/x.py:3', 2): 1},
                         _trace.read_forced(io.StringIO(OLD_FORCED_FILE)))

    def test_files_written_as_before(self):
        out = io.StringIO()
        _trace.write_entries(out, [(0, 'start', 'w1', 0),
                                   (None, 'wake', '', 1)])
        self.assertEqual(OLD_TRACE_FILE, out.getvalue())
        out = io.StringIO()
        _trace.write_forced(out, [{'key': [0, 'acquire', '/x.py:3', 2],
                                   'to': 1, 'text': '...'}])
        self.assertEqual(OLD_FORCED_FILE, out.getvalue())

    def test_files_of_the_wrong_shape(self):
        self.assertRaises(ValueError, _trace.read_entries,
                          io.StringIO('{}'))
        self.assertRaises(ValueError, _trace.read_forced,
                          io.StringIO('[]'))
        self.assertRaises(ValueError, _trace.read_forced,
                          io.StringIO('not json'))


class TestWords(testtools.TestCase):

    def test_a_decision_names_threads_and_locks(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'made.py')
        with open(path, 'w') as f:
            f.write('import threading\nself._lock = threading.Lock()\n')
        names = {0: 'MainThread', 1: 'w1', 2: 'w2'}
        took = _trace.Decision((0, 'release', f'{path}:2', 0), 1,
                               ('acquire', f'{path}:2'))
        self.assertEqual(
            f'"w1" took self._lock ({path}:2) before "MainThread" '
            f'released self._lock ({path}:2)',
            _sched_text.describe(took, names).replace(
                os.path.relpath(path), path))
        first = _trace.Decision((None, 'wake', '', 0), 2, ('wake',
                                                           'sleep'))
        self.assertEqual('"w2" woke from sleep first',
                         _sched_text.describe(first, names))
        started = _trace.Decision((0, 'start', 'w2', 0), 2, ('enter', ''))
        self.assertEqual('"w2" began before "MainThread" started "w2"',
                         _sched_text.describe(started, names))

    def test_the_record_of_a_park(self):
        class Park:
            kind, site, obj = 'waiter', '/t.py:9', None

        self.assertEqual('waiter /t.py:9', _trace.park_what(Park()))
        Park.obj = type('Lock', (), {'site': '/l.py:1'})()
        self.assertEqual('waiter /l.py:1', _trace.park_what(Park()))
        Park.obj, Park.site = None, None
        self.assertEqual('waiter', _trace.park_what(Park()))

    def test_a_summary(self):
        class Result:
            seed, strategy, steps, switches, preemptions = 2, 'pct', 9, 3, 1
            fingerprint, journal, journal_entries = 'f' * 16, 'j' * 16, 0
            divergence, causes = None, ['why']

        self.assertEqual(
            f'seed 2 (pct): 9 steps, 3 switches, 1 preemptions; trace '
            f'{"f" * 16}, journal {"j" * 16} (0 entries)\nreplay: not '
            f'exact:\n  why', _sched_text.summary(Result()))
