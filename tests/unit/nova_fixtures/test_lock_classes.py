"""Lock classes: ids folded out of lockutils names for the lock order."""

import os
import sys
import threading

from oslo_concurrency import lockutils
import testtools

import nova_fixtures
from nova_fixtures._lockdep import fold_ids
from tests.unit.nova_fixtures import test_deadlock

# Reports name files below their sys.path entry: the tests run from the
# repository's root.
HERE = os.path.relpath(__file__)
UUID_A = '6f3e2d4c-0b8a-4a56-9f1e-2c7d8b9a0e11'
UUID_B = '0d9c8b7a-6f5e-4d3c-8b2a-19f8e7d6c5b4'
UUID_C = 'c0ffee00-1234-4abc-9def-0123456789ab'


def line_here():
    """The line of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


class TestFoldIds(testtools.TestCase):

    def test_a_dashed_uuid_becomes_uuid(self):
        self.assertEqual('refresh_cache-<uuid>',
                         fold_ids(f'refresh_cache-{UUID_A}'))
        self.assertEqual('<uuid>-events', fold_ids(f'{UUID_A}-events'))
        self.assertEqual('<uuid>', fold_ids(UUID_A))

    def test_a_uuid_without_dashes_or_in_capitals_becomes_uuid(self):
        self.assertEqual('refresh_cache-<uuid>', fold_ids(
            f'refresh_cache-{UUID_A.replace("-", "")}'))
        self.assertEqual('<uuid>-events', fold_ids(f'{UUID_A.upper()}-events'))

    def test_a_standalone_integer_becomes_int(self):
        self.assertEqual('instance-<int>', fold_ids('instance-42'))
        self.assertEqual('<int>', fold_ids('7'))
        self.assertEqual('node_<int>.<int>', fold_ids('node_10.3'))

    def test_names_without_ids_are_unchanged(self):
        for name in ('compute_resources', 'nova-compute-v2', 'abc123',
                     'sha-' + 'ab' * 20, UUID_A + 'f', ''):
            self.assertEqual(name, fold_ids(name))

    def test_digits_after_an_underscore_stand_alone(self):
        # NOTE(tests): '_' is no letter or digit: 'x86_64' is two words.
        self.assertEqual('x86_<int>', fold_ids('x86_64'))

    def test_ids_mixed_in_one_name_are_each_folded(self):
        self.assertEqual('<uuid>-events-<int>',
                         fold_ids(f'{UUID_A}-events-3'))
        self.assertEqual(
            'migrate_<uuid>_<uuid>_to_host2', fold_ids(
                f'migrate_{UUID_A}_{UUID_B.replace("-", "")}_to_host2'))
        self.assertEqual('<int>-<uuid>', fold_ids(f'12-{UUID_B}'))


LockClassTestCase = test_deadlock.DeadlockTestCase


class TestInversionsBetweenLockClasses(LockClassTestCase):

    def test_two_kinds_of_instance_lock_inverted_on_two_instances(self):
        first_done = threading.Event()
        lines = {}

        def one():
            lines['one'] = line_here()
            with lockutils.lock(f'refresh_cache-{UUID_A}'):
                with lockutils.lock(f'{UUID_A}-events'):
                    pass
            first_done.set()

        def two():
            first_done.wait()
            lines['two'] = line_here()
            with lockutils.lock(f'{UUID_B}-events'):
                with lockutils.lock(f'refresh_cache-{UUID_B}'):
                    pass

        threads = [threading.Thread(target=one, name='T1'),
                   threading.Thread(target=two, name='T2')]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], self.fixture.deadlocks)
        [report] = self.fixture.inversions
        self.assertEqual(
            f'possible circular locking dependency: '
            f'lockutils:refresh_cache-{UUID_B} '
            f'(lockutils:refresh_cache-<uuid>) is taken while holding '
            f'lockutils:{UUID_B}-events (lockutils:<uuid>-events), but '
            f'lockutils:refresh_cache-<uuid> -> lockutils:<uuid>-events was '
            f'taken before\n'
            f'  one thread: holds lockutils:{UUID_B}-events (taken at '
            f'{HERE}:{lines["two"]}), waits for '
            f'lockutils:refresh_cache-{UUID_B}\n'
            f'  another:    holds lockutils:refresh_cache-<uuid>, waits for '
            f'lockutils:<uuid>-events\n'
            f'lockutils:<uuid>-events -> lockutils:refresh_cache-<uuid> first '
            f'taken by T2 (lockutils:{UUID_B}-events -> '
            f'lockutils:refresh_cache-{UUID_B}):\n'
            f'    {HERE}:{lines["two"] + 1} in two: '
            f"with lockutils.lock(f'refresh_cache-{{UUID_B}}'):\n"
            f'lockutils:refresh_cache-<uuid> -> lockutils:<uuid>-events first '
            f'taken by T1 (lockutils:refresh_cache-{UUID_A} -> '
            f'lockutils:{UUID_A}-events):\n'
            f'    {HERE}:{lines["one"] + 1} in one: '
            f"with lockutils.lock(f'{{UUID_A}}-events'):\n",
            report)
        error = self.assertRaises(nova_fixtures.LockOrderError,
                                  self.finish())
        self.assertEqual(report, str(error))

    def test_synchronized_names_with_integers_are_folded_too(self):
        @lockutils.synchronized('compute_resources')
        def claim(then):
            then()

        def build(number):
            @lockutils.synchronized(f'instance-{number}')
            def locked():
                claim(lambda: None)
            return locked

        build(1)()
        with lockutils.lock('compute_resources'):
            with lockutils.lock('instance-2'):
                pass
        [report] = self.fixture.inversions
        self.assertEqual(
            'possible circular locking dependency: lockutils:instance-2 '
            '(lockutils:instance-<int>) is taken while holding '
            'lockutils:compute_resources, but lockutils:instance-<int> -> '
            'lockutils:compute_resources was taken before',
            report.split('\n')[0])
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())

    def test_the_inversion_of_two_instances_locks_is_no_deadlock(self):
        # NOTE(tests): both threads hold their first lock before either
        # takes its second: the classes are inverted, the locks are not, so
        # the wait-for check (on the locks themselves) finds no cycle.
        barrier = threading.Barrier(2)
        nested = test_deadlock.nested
        threads = [
            threading.Thread(target=nested(barrier, f'refresh_cache-{UUID_A}',
                                           f'{UUID_A}-events'), name='T1'),
            threading.Thread(target=nested(barrier, f'{UUID_B}-events',
                                           f'refresh_cache-{UUID_B}'),
                             name='T2')]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], self.fixture.deadlocks)
        self.assertEqual(1, len(self.fixture.inversions))
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())


class TestLocksOfOneClass(LockClassTestCase):

    def test_nesting_two_locks_of_one_class_is_no_inversion(self):
        with lockutils.lock(UUID_A):
            with lockutils.lock(UUID_B):
                pass
        with lockutils.lock(UUID_C):
            with lockutils.lock(UUID_A):
                pass
        with lockutils.lock(f'refresh_cache-{UUID_B}'):
            with lockutils.lock(f'refresh_cache-{UUID_C}'):
                pass
        self.assertEqual([], self.fixture.inversions)
        self.assertEqual([], self.fixture.deadlocks)
        self.finish()()

    def test_two_locks_of_one_class_inverted_are_told_apart_by_name(self):
        with lockutils.lock(UUID_A):
            with lockutils.lock(UUID_B):
                pass
        taken = line_here()
        with lockutils.lock(UUID_B):
            with lockutils.lock(UUID_A):
                pass
        [report] = self.fixture.inversions
        self.assertEqual(
            [f'possible circular locking dependency: lockutils:{UUID_A} is '
             f'taken while holding lockutils:{UUID_B}, but '
             f'lockutils:{UUID_A} -> lockutils:{UUID_B} was taken before',
             f'  one thread: holds lockutils:{UUID_B} (taken at '
             f'{HERE}:{taken}), waits for lockutils:{UUID_A}',
             f'  another:    holds lockutils:{UUID_A}, waits for '
             f'lockutils:{UUID_B}',
             f'lockutils:{UUID_B} -> lockutils:{UUID_A} first taken by '
             f'MainThread:'],
            report.split('\n')[:4])
        self.assertRaises(nova_fixtures.LockOrderError, self.finish())
