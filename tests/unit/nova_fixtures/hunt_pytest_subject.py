"""A pytest test with a race, for test_hunt.py to hunt by node id (not
named test_*: nobody runs it otherwise; pytest collects a file it is
given by path)."""

import threading

import pytest


@pytest.fixture
def counter():
    return {'value': 0, 'lock': threading.Lock()}


@pytest.mark.parametrize('bumps', [2])
def test_every_bump_counts(counter, bumps):
    def bump():
        with counter['lock']:
            seen = counter['value']
        # NOTE(hunt_pytest_subject): the race: another bump may read
        # between this one's read and its write.
        with counter['lock']:
            counter['value'] = seen + 1

    threads = [threading.Thread(target=bump) for _ in range(bumps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter['value'] == bumps
