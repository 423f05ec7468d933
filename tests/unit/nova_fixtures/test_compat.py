"""A canary per private name nova_fixtures relies on (see _compat)."""

import re

import fixtures
import testtools

from nova_fixtures import _compat


class TestCanaries(testtools.TestCase):
    """One test per entry of _compat.PROBES, added below."""

    def test_a_missing_name_is_found(self):
        self.useFixture(fixtures.MonkeyPatch(
            'queue._PySimpleQueue', fixtures.MonkeyPatch.delete))
        self.assertEqual(
            [f'python {_compat._version("python")}: queue._PySimpleQueue'],
            _compat.missing())

    def test_a_missing_name_is_named_with_its_library_version(self):
        self.patch(_compat, 'PROBES', [('futurist', 'futurist._gone',
                                        lambda: False)])
        error = self.assertRaises(_compat.CompatError, _compat.check)
        version = _compat._version('futurist')
        self.assertEqual(
            'nova_fixtures relies on private names that this environment '
            'lacks; it needs updating for:\n'
            f'  futurist {version}: futurist._gone', str(error))

    def test_require_probes_one_library_once(self):
        calls = []

        def gone():
            calls.append('futurist')
            return False

        self.patch(_compat, 'PROBES', [
            ('futurist', 'futurist._gone', gone),
            ('oslo.messaging', 'oslo_messaging._there',
             lambda: calls.append('oslo.messaging') or True)])
        self.patch(_compat, '_required', set())
        _compat.require('oslo.messaging')
        _compat.require('oslo.messaging')
        self.assertEqual(['oslo.messaging'], calls)
        error = self.assertRaises(_compat.CompatError, _compat.require,
                                  'futurist')
        self.assertIn(f'futurist {_compat._version("futurist")}: '
                      f'futurist._gone', str(error))
        # NOTE(tests): a failed probe is not cached as passed.
        self.assertRaises(_compat.CompatError, _compat.require, 'futurist')
        self.assertEqual(['oslo.messaging', 'futurist', 'futurist'], calls)

    def test_the_modules_that_use_private_names_require_them(self):
        # NOTE(tests): every library with probes is required somewhere.
        import nova_fixtures.cast_as_call  # noqa: F401
        import nova_fixtures.executor  # noqa: F401
        self.assertEqual({'python', 'futurist', 'oslo.messaging'},
                         _compat._required)
        self.assertEqual({'python', 'futurist', 'oslo.messaging'},
                         {library for library, _, _ in _compat.PROBES})


def _canary(library, name, probe):
    def test(self):
        self.assertTrue(probe(), f'{library} {_compat._version(library)} '
                                 f'lacks {name}')
    return test


for _i, (_library, _name, _probe) in enumerate(_compat.PROBES):
    _slug = re.sub(r'\W+', '_', _name.split(',')[0]).strip('_').lower()
    setattr(TestCanaries, f'test_{_i:02d}_{_slug}',
            _canary(_library, _name, _probe))
