"""How reports show paths: below the longest sys.path entry holding them."""

import os
import sys

import fixtures
import testtools

from nova_fixtures import _paths


class TestShort(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.root = os.path.realpath(
            self.useFixture(fixtures.TempDir()).path)
        self.venv = os.path.join(self.root, 'venv', 'site-packages')
        os.makedirs(os.path.join(self.venv, 'nova', 'compute'))
        self.useFixture(fixtures.MonkeyPatch(
            'sys.path', [self.root, self.venv] + sys.path))

    def test_the_longest_entry_holding_the_file_wins(self):
        manager = os.path.join(self.venv, 'nova', 'compute', 'manager.py')
        self.assertEqual('nova/compute/manager.py', _paths.short(manager))
        self.assertEqual('venv/other.py', _paths.short(
            os.path.join(self.root, 'venv', 'other.py')))

    def test_a_file_outside_every_entry_keeps_its_whole_path(self):
        outside = os.path.join(os.sep, 'nowhere-on-the-path', 'x.py')
        self.assertNotIn(os.path.dirname(outside) + os.sep,
                         [p.rstrip(os.sep) + os.sep for p in sys.path])
        self.assertEqual(outside, _paths.short(outside))

    def test_sys_path_changes_are_seen(self):
        manager = os.path.join(self.venv, 'nova', 'compute', 'manager.py')
        self.assertEqual('nova/compute/manager.py', _paths.short(manager))
        sys.path.remove(self.venv)
        self.assertEqual('venv/site-packages/nova/compute/manager.py',
                         _paths.short(manager))

    def test_sites_and_lock_classes_show_file_and_line(self):
        manager = os.path.join(self.venv, 'nova', 'compute', 'manager.py')
        self.assertEqual('nova/compute/manager.py:36',
                         _paths.shown(f'{manager}:36'))
        # NOTE(tests): a lock class's column (or 3.10's bytecode offset)
        # tells classes apart; a report names the line.
        self.assertEqual('nova/compute/manager.py:36',
                         _paths.shown(f'{manager}:36:25'))
        self.assertEqual('nova/compute/manager.py:36',
                         _paths.shown(f'{manager}:36:@48'))
        for other in ('lockutils:compute-resources', '?', '',
                      '<frozen importlib._bootstrap>:241'):
            self.assertEqual(other, _paths.shown(other))
