"""The report of a run: the targets judged on its figures, and what it writes to
benchmarks/results/: results.json, results.md (its tables) and results.png (its chart)."""

import json
from pathlib import Path

from benchmarks.load import VIAS
from benchmarks.stack import progress
from workspace.compose import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
# The goals for build, size and start-up.
REBUILD_MAX_S, APP_ADDED_MAX_MB, HEALTHY_MAX_S = 10, 120, 10
# "gunicorn" in a goal: the better of its sync and gthread workers in the same run.
GUNICORN = ("gunicorn sync", "gunicorn gthread")


def targets(results: dict) -> list[dict]:
    """The project's targets, judged on this run's numbers for each client path (reported, never
    asserted), then the build's, the image's and the start-up's."""
    serving = {(r["via"], r["case"], r["server"]): r for r in results.get("serving", [])}
    rows = []
    for via in VIAS:
        for goal, case, ours, peer, minimum, latency in (
            # goal; case; ours; the peer; least ratio of their requests/s; whether ours' p99 is no worse
            ("dynamic page: ≥ 1.10× gunicorn, p99 no worse", "dynamic", ("uWSGI",), GUNICORN, 1.1, True),
            ("dynamic page: ≥ 1.0× Granian, p99 no worse", "dynamic", ("uWSGI",), ("Granian",), 1.0, True),
            ("/healthz: ≥ 1.3× gunicorn", "healthz", ("uWSGI",), GUNICORN, 1.3, False),
            ("static file: nginx ≥ 20× WhiteNoise", "static", ("nginx",), ("WhiteNoise",), 20, False),
            ("static file: nginx ≥ 0.5× bare nginx", "static", ("nginx",), ("bare nginx",), 0.5, False),
        ):
            ours_row, peer_row = (fastest(serving, via, case, names) for names in (ours, peer))
            if ours_row and peer_row:
                rows.append(compared(f"{goal} (via {via})", ours_row, peer_row, minimum, latency=latency))
    build, size, startup = (results.get(part, {}) for part in ("build", "size", "startup"))
    added_mb = size["app"]["added_bytes"] / 1e6 if "app" in size else None
    for target, measured, shown, limit in (
        # target; the figure (None when not measured); as shown; its limit
        (f"code-only rebuild ≤ {REBUILD_MAX_S} s", build.get("rebuild_s"), "{} s", REBUILD_MAX_S),
        (f"app image adds ≤ {APP_ADDED_MAX_MB} MB to its base", added_mb, "{:.0f} MB", APP_ADDED_MAX_MB),
        (f"stack healthy ≤ {HEALTHY_MAX_S} s after inv up", startup.get("up_to_healthy_s"), "{} s", HEALTHY_MAX_S),
    ):
        if measured is not None:
            rows.append({"target": target, "measured": shown.format(measured), "met": measured <= limit})
    return rows


def fastest(serving: dict, via: str, case: str, servers: tuple[str, ...]) -> dict | None:
    """The servers' row of a case on a path (`serving` by path, case and server): of several, the
    faster one's; None unless all were measured."""
    found = [serving[via, case, name] for name in servers if (via, case, name) in serving]
    return max(found, key=lambda r: r["requests_per_s"]) if len(found) == len(servers) else None


def compared(target: str, ours: dict, peer: dict, minimum: float, *, latency: bool) -> dict:
    """A serving target's row: ours' requests/s against the peer's, and p99 against p99 if asked."""
    ratio = ours["requests_per_s"] / peer["requests_per_s"]
    measured = f"{ratio:.2f}× {peer['server']}"
    met = ratio >= minimum
    if latency:
        measured += f", p99 {ours['p99_ms']} ms vs {peer['p99_ms']} ms"
        met = met and ours["p99_ms"] <= peer["p99_ms"]
    return {"target": target, "measured": measured, "met": met}


def markdown(results: dict) -> str:
    """results.md: the conditions, a table of the serving cases per path, the targets, the build,
    size and start-up figures, and the failed cases."""
    info = results["conditions"]
    lines = [
        "# inv bench results",
        "",
        (
            f"{info['date']}, {info['mode']} mode, {info['cpus']} CPUs, {info['docker']}; "
            f"settings from the environment: {info['settings'] or 'none (the defaults)'}."
        ),
    ]
    for via in VIAS:
        lines += serving_table(results, via)
    if results.get("targets"):
        lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in results["targets"]]
    if facts := stack_facts(results):
        lines += ["", "## Build, size, start-up", "", "| measure | value |", "|---|---|", *facts]
    if results["failures"]:
        lines += ["", "## Failed cases", "", *[f"- {f.splitlines()[0]}" for f in results["failures"]]]
    return "\n".join(lines) + "\n"


def serving_table(results: dict, via: str) -> list[str]:
    """The section of one client path's serving cases (none when it has none)."""
    rows = [r for r in results.get("serving", []) if r["via"] == via]
    if not rows:
        return []
    mode = results["conditions"]["wrk"]
    where = (
        "on this machine, through the proxies' published loopback ports"
        if via == VIAS[0]
        else "in a container on the stack's network, to the proxies by name"
    )
    warm_up = f"{mode['warmup']} s warm-up" if mode["warmup"] else "no warm-up"
    return [
        "",
        f"## Serving via {via}",
        "",
        (
            f"wrk {where}: {mode['connections']} connections, {mode['threads']} threads, "
            f"{mode['duration']} s after {warm_up}, Accept-Encoding: gzip."
        ),
        "",
        "| case | server | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|--:|--:|--:|--:|",
        *(
            f"| {r['what']} | {r['server']} | {r['requests_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['errors']} |"
            for r in rows
        ),
    ]


def stack_facts(results: dict) -> list[str]:
    """The build's, the images' and the start-up's figures, as table rows."""
    facts = []
    if build := results.get("build"):
        kind = "no cache" if build["cold_without_cache"] else "cache on (quick mode)"
        facts += [f"| build: cold app image ({kind}) | {build['cold_s']} s |"]
        facts += [f"| build: rebuild after a one-line view change | {build['rebuild_s']} s |"]
        reinstalled = "yes" if build["rebuild_reinstalled_dependencies"] else "no"
        facts += [f"| build: the rebuild reinstalled dependencies | {reinstalled} |"]
    for service, size in results.get("size", {}).items():
        facts += [
            (
                f"| size: {service} image adds to {size['base']} | {size['added_bytes'] / 1e6:.1f} MB, "
                f"{size['added_layers']} layers ({size['layers']} in all) |"
            )
        ]
    if "app" in results.get("size", {}):
        facts += [f"| size: compilers in the app image | {', '.join(results['size']['app']['compilers']) or 'none'} |"]
    if startup := results.get("startup"):
        facts += [f"| start-up: `inv up` (images built, volumes kept) to healthy | {startup['up_to_healthy_s']} s |"]
        facts += [f"| start-up: restart app until the proxy answers 200 | {startup['restart_app_to_200_s']} s |"]
    if tasks := results.get("tasks"):
        median, p90 = tasks["enqueue_to_start_median_ms"], tasks["enqueue_to_start_p90_ms"]
        facts += [f"| tasks: enqueue to start on an idle worker, median (p90) | {median} ms ({p90} ms) |"]
        facts += [f"| tasks: empty tasks a second, one worker | {tasks['tasks_per_s']} |"]
    return facts


def chart(results: dict, path: Path) -> None:
    """results.png: requests/s and p99 per case and server, a row of panels per client path."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = results.get("serving", [])
    vias = [via for via in VIAS if any(r["via"] == via for r in rows)]
    if not vias:
        return
    # One row of panels per client path, on the same scales; horizontal bars, so every case and
    # server has its label.
    figure, panels = plt.subplots(len(vias), 2, figsize=(13, 1.2 + 4.2 * len(vias)), squeeze=False, sharex="col")
    for via, (speed, p99) in zip(vias, panels, strict=True):
        mine = [r for r in rows if r["via"] == via]
        labels = [f"{r['case']}: {r['server']}" for r in mine]
        ours = ["#2b6cb0" if r["server"].startswith(("uWSGI", "nginx")) else "#a0aec0" for r in mine]
        speed.barh(labels, [r["requests_per_s"] for r in mine], color=ours)
        speed.set_title(f"via {via}: requests/s (log scale; more is better)")
        p99.barh(labels, [r["p99_ms"] for r in mine], color=ours)
        p99.set_title(f"via {via}: p99 latency, ms (log scale; less is better)")
        p99.set_yticklabels([])
        for axes in (speed, p99):
            axes.set_xscale("log")
            axes.invert_yaxis()
            axes.tick_params(axis="y", labelsize=8)
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    figure.suptitle(f"inv bench, {results['conditions']['date']} ({results['conditions']['mode']} mode); blue: ours")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict) -> None:
    """results.json, results.md and results.png in benchmarks/results/; the tables printed too."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    (RESULTS / "results.md").write_text(report)
    chart(results, RESULTS / "results.png")
    print("\n" + report, flush=True)
    progress(f"results in {RESULTS.relative_to(ROOT)}/ (results.json, results.md, results.png)")
