"""Other threads' stacks from faulthandler's dump."""

import os
import sys
import threading

import testtools

from nova_fixtures import _bubble
from nova_fixtures import _stacks


class TestAllStacks(testtools.TestCase):

    def test_a_blocked_thread_and_this_one(self):
        go = threading.Event()
        waiting = threading.Event()

        def inner():
            waiting.set()
            go.wait()

        def outer():
            inner()

        thread = threading.Thread(target=outer)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(go.set)
        waiting.wait()
        here = sys._getframe().f_lineno + 1
        stacks = _stacks.all_stacks()
        go.set()
        mine = stacks[threading.get_ident()]
        self.assertEqual(
            (__file__, here, 'test_a_blocked_thread_and_this_one'), mine[1])
        theirs = [e for e in stacks[thread.ident] if e[0] == __file__]
        self.assertEqual(
            [(__file__, inner.__code__.co_firstlineno + 2, 'inner'),
             (__file__, outer.__code__.co_firstlineno + 1, 'outer')],
            theirs)
        # NOTE(tests): reports show files below their sys.path entry.
        here_short = os.path.relpath(__file__)
        self.assertEqual(
            [f'    {here_short}:{outer.__code__.co_firstlineno + 1} in outer: '
             f'inner()',
             f'    {here_short}:{inner.__code__.co_firstlineno + 2} in inner: '
             f'go.wait()'],
            _bubble.trimmed_lines(stacks[thread.ident]))
