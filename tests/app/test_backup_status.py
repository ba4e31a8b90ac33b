"""/status/backups, apart from /healthz: a database that archives nothing (development, these
tests) says "off"; a database away is an error, never a traceback. The stale answers of a
deployment are proven on a running one (tests/stack/test_backups.py)."""


def test_a_database_that_archives_nothing_says_off_and_is_no_failure(client, db):
    response = client.get("/status/backups")
    assert response.status_code == 200
    assert response.json() == {"status": "off"}
    assert "no-cache" in response["Cache-Control"]


def test_a_database_away_is_a_503_in_one_word(client, unreachable_database):
    response = client.get("/status/backups")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
