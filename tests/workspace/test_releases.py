"""Release names and the switch's health rule (workspace/releases.py), without an engine."""

import subprocess

import pytest

from workspace import releases


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A git checkout of one commit, as the releases module sees the repository."""
    monkeypatch.setattr(releases, "ROOT", tmp_path)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "views.py").write_text("one\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    return tmp_path


def test_a_clean_tree_names_the_release_after_its_commit(checkout):
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    )
    assert releases.release_name() == head.stdout.strip()


def test_uncommitted_changes_get_a_marker_and_a_name_of_their_own(checkout):
    clean = releases.release_name()
    (checkout / "views.py").write_text("two\n")
    first = releases.release_name()
    (checkout / "views.py").write_text("three\n")
    assert first.startswith(f"{clean}-dirty-")
    assert releases.release_name() not in (clean, first)


def test_outside_a_checkout_the_release_is_named_by_the_time(tmp_path, monkeypatch):
    monkeypatch.setattr(releases, "ROOT", tmp_path)
    assert len(releases.release_name()) == len("20261203-101500")


def container(status="running", health="starting", restarts=0, output="") -> dict:
    return {
        "Name": "/site-app-3",
        "RestartCount": restarts,
        "State": {"Status": status, "ExitCode": 3, "Health": {"Status": health, "Log": [{"Output": output}]}},
    }


def test_a_starting_container_may_still_get_healthy():
    assert releases.health_failure(container()) == ""


@pytest.mark.parametrize(
    ("state", "named"),
    [
        (container(status="exited"), "site-app-3 stopped (exit 3)"),
        (container(restarts=1), "site-app-3 stopped"),
        (container(health="unhealthy"), "site-app-3 is unhealthy"),
    ],
)
def test_a_container_that_stopped_or_failed_its_check_will_not(state, named):
    assert releases.health_failure(state).startswith(named)


def test_the_reason_is_the_health_checks_last_line():
    assert releases.last_health_output(container(output="Traceback...\nOperationalError: no db\n")) == (
        "OperationalError: no db"
    )


def test_the_listing_names_each_releases_snapshot_and_marks_the_serving_one(capsys):
    known = [
        {"name": "b", "time": "t2", "user": "me", "migrations": {"core": "0004_note", "auth": "0012"}, "snapshot": ""},
        {"name": "a", "time": "t1", "user": "me", "migrations": {"core": "0003"}, "snapshot": "before-a"},
    ]
    releases.show(known, "b")
    newer, older = capsys.readouterr().out.splitlines()
    assert newer.endswith("core 0004_note  <- serving")
    assert "auth" not in newer
    assert older.endswith("core 0003  snapshot: before-a")
