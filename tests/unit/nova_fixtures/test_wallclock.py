"""_wallclock: datetime and time readings follow a thread's virtual wall."""

import calendar
import copy
import copyreg
import datetime
import os
import pickle
import subprocess
import sys
import threading
import time
import types
import unittest
import warnings
import zoneinfo

from oslo_utils import timeutils
import testtools

from nova_fixtures import _timeswap
from nova_fixtures import _wallclock

# NOTE(wallclock): 2009-02-13 23:31:30.25 UTC, exact as a float.
WALL = 1234567890.25
OTHER_WALL = 1700000000.123456
TIME_FUNCTIONS = ('localtime', 'gmtime', 'ctime', 'asctime', 'strftime')

# NOTE(wallclock): run in a child process with a fixed zone, five hours
# behind UTC, so that local time differs from UTC on any machine.
IN_A_ZONE = '''
import datetime, importlib.util, sys, time
from nova_fixtures import _timeswap
_timeswap.install(lambda: 1234567890.25)
print(datetime.datetime.now(), datetime.datetime.today(),
      datetime.date.today(), datetime.datetime.now(datetime.timezone.utc),
      time.localtime()[:6], time.strftime('%H:%M'), time.ctime(),
      time.asctime(), sep='|')
'''


def utc_naive(wall):
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=wall)


def utcnow(cls=None):
    with warnings.catch_warnings():
        # NOTE(wallclock): deprecated since 3.12, still ours to patch.
        warnings.simplefilter('ignore', DeprecationWarning)
        return (cls or datetime.datetime).utcnow()


def in_thread(reading, walls=None, wall=None):
    """reading() in a new thread: on virtual wall ``wall``, or real."""
    result = []

    def run():
        if wall is None:
            result.append(reading())
            return
        # NOTE(wallclock): idents are reused: forget this one on the way out.
        walls[threading.get_ident()] = wall
        try:
            result.append(reading())
        finally:
            del walls[threading.get_ident()]

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


class WallclockTestCase(testtools.TestCase):
    """The test thread reads WALL, other threads the real wall time."""

    def setUp(self):
        super().setUp()
        # NOTE(wallclock): start from the real objects even if a clock
        # installed the swap earlier in this process. They live in instance
        # attributes: a module global would be swapped by the scan too.
        _timeswap.uninstall_for_tests()
        self.real_datetime = datetime.datetime
        self.real_date = datetime.date
        self.assertIsNot(_wallclock._CLASS_SWAPS[datetime.datetime, 'now'],
                         datetime.datetime.__dict__['now'])
        self.real_now = datetime.datetime.__dict__['now']
        self.real_today = datetime.date.__dict__['today']
        self.assertIs(_wallclock._REAL_DATETIME, self.real_datetime)
        self.real = {name: getattr(time, name) for name in TIME_FUNCTIONS}
        self.walls = {threading.get_ident(): WALL}
        self.addCleanup(_timeswap.uninstall_for_tests)
        _timeswap.install(self.read_wall)

    def read_wall(self):
        return self.walls.get(threading.get_ident())

    def assertReal(self, value, cls=None):
        self.assertIs(cls or self.real_datetime, type(value))

    def assertRealNow(self, value, real_value, tolerance=5.0):
        self.assertLess(abs((value - real_value).total_seconds()), tolerance)


class TestDatetimeFollowsReadWall(WallclockTestCase):

    def test_utcnow_is_naive_utc_of_read_wall(self):
        now = utcnow()
        self.assertReal(now)
        self.assertEqual(utc_naive(WALL), now)
        self.assertEqual(datetime.datetime(2009, 2, 13, 23, 31, 30, 250000),
                         now)

    def test_now_with_tz_is_fromutc_of_read_wall_like_cpython(self):
        zones = [datetime.timezone.utc,
                 datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
                 zoneinfo.ZoneInfo('America/New_York')]
        for tz in zones:
            expected = tz.fromutc(utc_naive(WALL).replace(tzinfo=tz))
            for now in (datetime.datetime.now(tz),
                        datetime.datetime.now(tz=tz)):
                self.assertReal(now)
                self.assertIs(tz, now.tzinfo)
                self.assertEqual(
                    (expected.replace(tzinfo=None), expected.utcoffset()),
                    (now.replace(tzinfo=None), now.utcoffset()))
        self.assertEqual('2009-02-13 18:31:30.250000-05:00',
                         str(datetime.datetime.now(zones[2])))

    def test_now_and_today_are_naive_local_time_of_read_wall(self):
        expected = self.real_datetime.fromtimestamp(WALL)
        for now in (datetime.datetime.now(), datetime.datetime.now(None),
                    datetime.datetime.today()):
            self.assertReal(now)
            self.assertEqual(expected, now)
            self.assertIsNone(now.tzinfo)

    def test_date_today_is_local_date_of_read_wall(self):
        today = datetime.date.today()
        self.assertReal(today, self.real_date)
        self.assertEqual(self.real_date.fromtimestamp(WALL), today)

    def test_oslo_utils_utcnow_follows_read_wall(self):
        self.assertEqual(utc_naive(WALL), timeutils.utcnow())
        aware = timeutils.utcnow(with_timezone=True)
        self.assertEqual(utc_naive(WALL), aware.replace(tzinfo=None))
        self.assertEqual(datetime.timedelta(0), aware.utcoffset())

    def test_a_later_read_wall_value_is_read_at_once(self):
        self.walls[threading.get_ident()] = OTHER_WALL
        self.assertEqual(utc_naive(OTHER_WALL), utcnow())
        self.assertEqual('2023-11-14T22:13:20.123456',
                         utcnow().isoformat())

    def test_each_thread_reads_its_own_wall_or_the_real_one(self):
        def reading():
            real = self.real_datetime.now(datetime.timezone.utc)
            return real.replace(tzinfo=None), utcnow()

        real, other = in_thread(reading, self.walls, OTHER_WALL)
        self.assertEqual(utc_naive(OTHER_WALL), other)
        real, now = in_thread(reading)
        self.assertReal(now)
        self.assertRealNow(now, real)
        self.assertEqual(utc_naive(WALL), utcnow())

    def test_thread_off_the_clock_reads_real_now_today_and_oslo(self):
        def reading():
            real = self.real_datetime.now()
            real_utc = self.real_datetime.now(datetime.timezone.utc)
            return (real, real_utc, datetime.datetime.now(),
                    datetime.datetime.today(), datetime.date.today(),
                    datetime.datetime.now(datetime.timezone.utc),
                    timeutils.utcnow(), timeutils.utcnow(True))

        (real, real_utc, now, today, date_today, aware, oslo_naive,
         oslo_aware) = in_thread(reading)
        for value, real_value in ((now, real), (today, real),
                                  (aware, real_utc), (oslo_aware, real_utc),
                                  (oslo_naive, real_utc.replace(tzinfo=None))):
            self.assertReal(value)
            self.assertRealNow(value, real_value)
        self.assertReal(date_today, self.real_date)
        self.assertLessEqual(abs(date_today - real.date()).days, 1)

    @unittest.skipIf(sys.version_info < (3, 12), 'utcnow() warns from 3.12')
    def test_utcnow_warns_as_deprecated_at_the_callers_line(self):
        with self.assertWarns(DeprecationWarning) as caught:
            datetime.datetime.utcnow()
        self.assertEqual(__file__, caught.filename)
        with warnings.catch_warnings(record=True) as real:
            warnings.simplefilter('always')
            self.real_datetime.utcnow()
        self.assertEqual(str(real[0].message), str(caught.warning))

    def test_local_time_in_a_zone_west_of_utc(self):
        output = subprocess.run(
            [sys.executable, '-c', IN_A_ZONE],
            env=dict(os.environ, TZ='EST+05'), check=True,
            capture_output=True, text=True).stdout
        self.assertEqual(
            ['2009-02-13 18:31:30.250000', '2009-02-13 18:31:30.250000',
             '2009-02-13', '2009-02-13 23:31:30.250000+00:00',
             '(2009, 2, 13, 18, 31, 30)', '18:31',
             'Fri Feb 13 18:31:30 2009', 'Fri Feb 13 18:31:30 2009'],
            output.rstrip('\n').split('|'))


class TestTimeFunctionsFollowReadWall(WallclockTestCase):

    def test_without_time_argument_they_read_read_wall(self):
        real = self.real
        local = real['localtime'](WALL)
        self.assertEqual((2009, 2, 13, 23, 31, 30), time.gmtime()[:6])
        self.assertEqual(real['gmtime'](WALL), time.gmtime(None))
        self.assertEqual(local, time.localtime())
        self.assertEqual(local, time.localtime(None))
        self.assertEqual(real['ctime'](WALL), time.ctime())
        self.assertEqual(real['ctime'](WALL), time.ctime(None))
        self.assertEqual(real['asctime'](local), time.asctime())
        fmt = '%Y-%m-%d %H:%M:%S'
        self.assertEqual(real['strftime'](fmt, local), time.strftime(fmt))

    def test_with_time_argument_they_behave_as_the_real_ones(self):
        real = self.real
        t = (2020, 1, 2, 3, 4, 5, 3, 2, 0)
        self.assertEqual((1970, 1, 1, 0, 0, 0), time.gmtime(0)[:6])
        self.assertEqual(real['localtime'](86400), time.localtime(86400))
        self.assertEqual(real['ctime'](86400), time.ctime(86400))
        self.assertEqual('Thu Jan  2 03:04:05 2020', time.asctime(t))
        self.assertEqual('2020', time.strftime('%Y', t))

    def test_bad_calls_raise_what_the_real_ones_raise(self):
        bad_calls = [('gmtime', ('x',), {}), ('gmtime', (), {'secs': 1}),
                     ('localtime', (1, 2), {}), ('ctime', ('x',), {}),
                     ('asctime', (None,), {}), ('strftime', (), {}),
                     ('strftime', (5,), {}), ('gmtime', (1e300,), {})]
        for name, args, kwargs in bad_calls:
            expected = self.assertRaises(
                Exception, self.real[name], *args, **kwargs)
            error = self.assertRaises(
                type(expected), getattr(time, name), *args, **kwargs)
            self.assertEqual(str(expected), str(error))

    def test_thread_off_the_clock_reads_real_time(self):
        def reading():
            return (calendar.timegm(self.real['gmtime']()),
                    calendar.timegm(time.gmtime()),
                    calendar.timegm(time.localtime()) -
                    calendar.timegm(self.real['localtime']()))

        real, swapped, local_difference = in_thread(reading)
        self.assertLessEqual(abs(swapped - real), 5)
        self.assertLessEqual(abs(local_difference), 5)


class TestRealClasses(WallclockTestCase):

    def test_the_names_keep_the_real_classes(self):
        self.assertIs(self.real_datetime, datetime.datetime)
        self.assertIs(self.real_date, datetime.date)
        for value in (datetime.datetime.now(), utcnow(),
                      datetime.datetime.today(),
                      datetime.datetime.now(datetime.timezone.utc)):
            self.assertIs(datetime.datetime, type(value))
        self.assertIs(datetime.date, type(datetime.date.today()))
        self.assertIs(datetime.datetime, timeutils.datetime.datetime)

    def test_pickles_are_the_bytes_of_unpatched_pickles_and_round_trip(self):
        tz = datetime.timezone(datetime.timedelta(hours=2))
        values = [datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=tz),
                  datetime.datetime(2021, 11, 7, 1, 30, fold=1),
                  datetime.date(2020, 1, 2), datetime.datetime.now()]
        pickles = [[pickle.dumps(value, protocol) for value in values]
                   for protocol in range(pickle.HIGHEST_PROTOCOL + 1)]
        for value in values:
            for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                loaded = pickle.loads(pickle.dumps(value, protocol))
                self.assertEqual(
                    (type(value), value, getattr(value, 'tzinfo', None)),
                    (type(loaded), loaded, getattr(loaded, 'tzinfo', None)))
            self.assertEqual(type(value), type(copy.copy(value)))
            self.assertEqual(value, copy.deepcopy(value))
        self.assertIs(datetime.datetime,
                      pickle.loads(pickle.dumps(datetime.datetime)))
        self.assertNotIn(datetime.datetime, copyreg.dispatch_table)
        _timeswap.uninstall_for_tests()
        self.assertEqual(
            [[pickle.dumps(value, protocol) for value in values]
             for protocol in range(pickle.HIGHEST_PROTOCOL + 1)], pickles)

    def test_subclasses_made_before_or_after_follow_read_wall(self):
        class Day(datetime.date):
            pass

        _timeswap.uninstall_for_tests()

        class Stamp(datetime.datetime):
            def label(self):
                return self.strftime('%Y-%m-%d')

        _timeswap.install(self.read_wall)

        class Later(datetime.datetime):
            pass

        for cls in (Stamp, Later):
            made = cls(2020, 1, 2)
            self.assertIs(cls, type(made))
            self.assertIsInstance(made, datetime.datetime)
            for now in (cls.now(), cls.today()):
                self.assertIs(cls, type(now))
                self.assertEqual(self.real_datetime.fromtimestamp(WALL), now)
            for now in (cls.now(datetime.timezone.utc), utcnow(cls)):
                self.assertIs(cls, type(now))
                self.assertEqual(utc_naive(WALL), now.replace(tzinfo=None))
            real = in_thread(lambda: (self.real_datetime.now(), cls.now()))
            self.assertIs(cls, type(real[1]))
            self.assertRealNow(real[1], real[0])
        self.assertEqual('2020-01-02', Stamp(2020, 1, 2).label())
        self.assertIs(Day, type(Day.today()))
        self.assertEqual(self.real_date.fromtimestamp(WALL), Day.today())

    def test_a_c_extension_imported_after_install_sees_the_real_types(self):
        # NOTE(wallclock): Cython checks the size of datetime.date at
        # import; a stand-in subclass there warned "datetime.date size
        # changed", an error under -W error.
        script = ('from nova_fixtures import _timeswap\n'
                  '_timeswap.install(lambda: 1234567890.25)\n'
                  'import datetime, msgpack._cmsgpack\n'
                  'print(datetime.datetime.now(datetime.timezone.utc))\n')
        done = subprocess.run(
            [sys.executable, '-W', 'error', '-c', script],
            capture_output=True, text=True,
            env=dict(os.environ, PYTHONPATH=os.getcwd()))
        self.assertEqual((0, '2009-02-13 23:31:30.250000+00:00\n', ''),
                         (done.returncode, done.stdout, done.stderr))


class TestInstall(WallclockTestCase):

    def make_module(self, name, **namespace):
        """A module imported before install, holding ``namespace``."""
        module = types.ModuleType(name)
        module.__dict__.update(namespace)
        self.addCleanup(sys.modules.pop, name, None)
        sys.modules[name] = module
        return module

    def test_aliases_bound_at_import_are_swapped_by_a_later_install(self):
        # NOTE(wallclock): as ``from datetime import date, datetime`` and
        # ``from time import gmtime, strftime as fmt`` before install.
        module = self.make_module(
            'wallclock_aliases', datetime=self.real_datetime,
            date=self.real_date, gmtime=self.real['gmtime'],
            fmt=self.real['strftime'])
        _timeswap.install(self.read_wall)
        self.assertIs(self.real_datetime, module.datetime)
        self.assertIs(self.real_date, module.date)
        self.assertIs(time.gmtime, module.gmtime)
        self.assertEqual(utc_naive(WALL), module.datetime.now(
            datetime.timezone.utc).replace(tzinfo=None))
        self.assertEqual(self.real_date.fromtimestamp(WALL),
                         module.date.today())
        self.assertEqual((2009, 2, 13, 23, 31, 30), module.gmtime()[:6])
        self.assertEqual('2009', module.fmt('%Y'))
        _timeswap.uninstall_for_tests()
        self.assertIs(self.real['gmtime'], module.gmtime)
        self.assertIs(self.real['strftime'], module.fmt)

    def test_later_install_scans_only_modules_imported_since(self):
        module = self.make_module('wallclock_late')
        _timeswap.install(self.read_wall)
        module.late = self.real['gmtime']
        _timeswap.install(self.read_wall)
        self.assertIs(self.real['gmtime'], module.late)

    def test_later_install_updates_read_wall(self):
        _timeswap.install(lambda: OTHER_WALL)
        self.assertEqual(utc_naive(OTHER_WALL), utcnow())
        self.assertEqual(utc_naive(OTHER_WALL),
                         in_thread(utcnow))

    def test_uninstall_puts_every_real_object_back(self):
        _timeswap.uninstall_for_tests()
        self.assertIs(self.real_datetime, datetime.datetime)
        self.assertIs(self.real_date, datetime.date)
        for name in TIME_FUNCTIONS:
            self.assertIs(self.real[name], getattr(time, name))
        self.assertIs(self.real_now, datetime.datetime.__dict__['now'])
        self.assertIs(self.real_today, datetime.date.__dict__['today'])
        self.assertRealNow(
            utcnow(), self.real_datetime.now(
                datetime.timezone.utc).replace(tzinfo=None))
