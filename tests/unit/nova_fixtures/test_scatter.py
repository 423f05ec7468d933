"""scatter_gather refuses a bad timeout where it is given."""

import testtools

import nova_fixtures


class TestScatterGatherTimeout(testtools.TestCase):

    def test_nan_negative_and_infinite_timeouts_are_refused(self):
        for bad in (float('nan'), -1, -0.5, float('inf'), float('-inf')):
            error = self.assertRaises(ValueError,
                                      nova_fixtures.scatter_gather,
                                      ['a'], lambda t: t, bad)
            self.assertEqual(f'scatter_gather timeout must be a finite '
                             f'number of seconds >= 0, got {bad!r}',
                             str(error))

    def test_a_timeout_that_is_not_a_number_is_refused(self):
        for bad in ('5', None, True, [1]):
            error = self.assertRaises(TypeError,
                                      nova_fixtures.scatter_gather,
                                      ['a'], lambda t: t, bad)
            self.assertEqual(f'scatter_gather timeout must be a number of '
                             f'seconds, got {bad!r}', str(error))

    def test_the_timeout_is_checked_before_the_targets(self):
        # NOTE(tests): nothing is started, not even for no target.
        error = self.assertRaises(ValueError, nova_fixtures.scatter_gather,
                                  [], lambda t: t, float('nan'))
        self.assertEqual('scatter_gather timeout must be a finite number '
                         'of seconds >= 0, got nan', str(error))
