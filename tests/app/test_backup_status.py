"""/status/backups, apart from /healthz: a database that archives nothing (development, these
tests) says "off"; a database away is an error, never a traceback. The stale answers of a
deployment are proven on a running one (tests/stack/test_backups.py)."""

import pytest

from ops.backups import backup_problems


def test_a_database_that_archives_nothing_says_off_and_is_no_failure(client, db):
    response = client.get("/status/backups")
    assert response.status_code == 200
    assert response.json() == {"status": "off"}
    assert "no-cache" in response["Cache-Control"]


def test_a_database_away_is_a_503_in_one_word(client, unreachable_database):
    response = client.get("/status/backups")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


DAY = 86400


@pytest.mark.parametrize(
    ("drill", "first", "problem"),
    [
        (None, 2 * DAY, None),
        ((3 * DAY, True, "passed"), 30 * DAY, None),
        (None, 9 * DAY, "no restore drill in the 9.0 days since the first base backup, over 8"),
        ((10 * DAY, True, "passed"), 30 * DAY, "the last restore drill is 10.0 days old, over 8"),
        ((1 * DAY, False, "a file is damaged"), 30 * DAY, "the last restore drill failed: a file is damaged"),
    ],
)
def test_a_drill_that_failed_is_old_or_never_ran_is_stale(drill, first, problem):
    fresh_backup = (3600, True, "20261203-030002F")
    assert backup_problems(fresh_backup, drill, first) == ([problem] if problem else [])
