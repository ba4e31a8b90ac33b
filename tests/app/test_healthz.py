import pytest


def test_healthz_is_ok_with_a_live_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_is_unreachable(client, unreachable_database):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


def test_pages_answer_503_not_500_while_the_database_is_away(client, unreachable_database):
    response = client.get("/")
    assert response.status_code == 503
    assert b"database cannot be reached" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_only_answers_get(client, method):
    assert getattr(client, method)("/healthz").status_code == 405
