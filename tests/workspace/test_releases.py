"""Release names and the switch's health rule (workspace/releases.py), without an engine."""

import re
import subprocess
from pathlib import Path

import pytest
from invoke import Exit

from tests.workspace.conftest import GOOD, commands, mock_context
from workspace import releases
from workspace.deployment import Deployment


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


KNOWN = [
    {"name": "c", "migrations": {"core": "0005"}, "snapshot": "backups/before-c"},
    {"name": "b", "migrations": {"core": "0004"}, "snapshot": ""},
    {"name": "a", "migrations": {"core": "0003"}, "snapshot": ""},
]


def test_a_rollback_goes_to_the_release_before_the_serving_one_by_default():
    assert releases.rollback_target(KNOWN, "b", "", "here", "inv releases")["name"] == "a"
    assert releases.rollback_target(KNOWN, "c", "a", "here", "inv releases")["name"] == "a"


def test_a_target_newer_than_the_serving_release_is_refused_in_one_line():
    with pytest.raises(Exit, match=r"c is newer than the serving release b: `inv deploy` ships"):
        releases.rollback_target(KNOWN, "b", "c", "here", "inv releases")


def test_a_serving_release_without_a_record_goes_back_to_the_newest_recorded():
    assert releases.rollback_target(KNOWN, "unrecorded", "", "here", "inv releases")["name"] == "c"


def test_what_a_reversal_drops_is_named_with_its_rows():
    preview = (
        'log line\n{"drops": [{"table": "core_note", "column": null, "rows": 12}, '
        '{"table": "todos_todo", "column": "note", "rows": 3}], "kept": []}\n'
    )
    assert releases.drops(preview) == [
        "the table core_note (12 rows)",
        "the column todos_todo.note (3 rows hold a value)",
    ]
    assert releases.drops('{"drops": [], "kept": []}') == []
    # An older release's code, without --drops: it cannot tell, so the rollback asks all the same.
    assert releases.drops(None) == releases.UNKNOWN_DROPS


@pytest.fixture
def serving_c(deploy_env, engine, monkeypatch):
    """A deployment serving release c of KNOWN, whose reversal to b drops a table with rows; the
    steps a rollback takes, recorded in order."""
    steps = []
    monkeypatch.setattr(Deployment, "serving", lambda self, c: "c")
    monkeypatch.setattr(releases, "records", lambda c, deployment, release: KNOWN)
    monkeypatch.setattr(releases, "switch", lambda c, deployment, release: steps.append(f"switch {release}"))

    def snapshot(deployment, name):
        steps.append(f"snapshot {name}")
        return Path(f"backups/{name}")

    monkeypatch.setattr(releases, "snapshot", snapshot)
    preview = '{"drops": [{"table": "core_note", "column": null, "rows": 12}], "kept": []}'
    c = mock_context({"--drops": preview})
    return c, Deployment(deploy_env(*GOOD)), steps


def test_a_rollback_that_drops_rows_asks_first_and_changes_nothing_unanswered(serving_c, capsys):
    c, deployment, steps = serving_c
    with pytest.raises(Exit, match=r"Nothing rolled back\. Add --yes"):
        releases.rollback(c, deployment)
    assert "drops the table core_note (12 rows)" in capsys.readouterr().out
    assert steps == []
    assert not [command for command in commands(c) if "--drops" not in command and "image inspect" not in command]


def test_a_rollback_told_yes_switches_then_snapshots_then_reverses(serving_c, capsys):
    c, deployment, steps = serving_c
    releases.rollback(c, deployment, yes=True)
    assert steps[0] == "switch b"
    assert re.fullmatch(r"snapshot before-rollback-c-\d{8}-\d{6}", steps[1])
    assert len(steps) == 2
    assert "release_rollback" in commands(c)[-1]
    assert "--drops" not in commands(c)[-1]
    assert re.search(r"`inv restore --dump backups/before-rollback-c-\S+` brings it back", capsys.readouterr().out)


def test_a_deploy_prunes_past_the_kept_releases_their_images_snapshots_and_a_failed_releases_images(
    deploy_env, engine, monkeypatch, tmp_path
):
    monkeypatch.setattr(releases, "ROOT", tmp_path)
    for name in ("c", "a"):
        (tmp_path / "backups" / f"before-{name}").mkdir(parents=True)
    known = [
        {"name": "c", "snapshot": "backups/before-c"},
        {"name": "b"},
        {"name": "a", "snapshot": "backups/before-a"},
    ]
    c = mock_context({"image ls": "c\nb\na\nfailed\nlatest\n<none>\n"})
    releases.prune_one_host(c, Deployment(deploy_env(*GOOD)), known, 2)
    removed = [command for command in commands(c) if "image rm" in command]
    site = "django-compose-workspace"
    assert removed == [
        f"docker image rm {site}-app:a {site}-app:failed",
        f"docker image rm {site}-proxy:a {site}-proxy:failed",
    ]
    assert sorted(path.name for path in (tmp_path / "backups").iterdir()) == ["before-c"]


def test_a_switch_interrupted_before_the_new_containers_took_over_stops_them_and_unpins_the_proxy(
    deploy_env, engine, monkeypatch
):
    """Ctrl-C while the new release gets healthy: the proxy must not stay pinned to the old
    containers (the next deploy would take the new ones for the old), nor reach unready ones."""
    c = mock_context({"ps -q --status running app": "old1", "ps -q --all app": "old1 new1"})
    monkeypatch.setattr(releases, "addresses", lambda c, deployment, containers: [f"{containers[0]}:9000"])

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(releases, "wait_until_healthy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        releases.switch(c, Deployment(deploy_env(*GOOD)), "new")
    ran = commands(c)
    assert ran[-2] == "docker stop new1"
    assert ran[-1].endswith("exec -T proxy release-pin")
    assert any(command.endswith("release-pin old1:9000") for command in ran)
