"""``make bench``: run every suite against its same-run baseline and write the results.

    python -m bench.run                 # the full run (minutes)
    python -m bench.run --tiny          # every suite in a tiny configuration (seconds)
    python -m bench.run --suite fanout  # one suite

Absolute numbers on a shared 2-core machine mean little, so every figure is reported
next to a baseline measured in the same run, and as a ratio to it.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"

FULL = {
    "fanout_sizes": [10, 100, 500],
    "fanout_rates": {
        # Steps close together where either side saturates, so "the highest step with
        # p99 <= 250 ms" is not decided by a coarse grid.
        10: [25, 50, 75, 100, 150, 200, 300, 400, 600, 800],
        100: [5, 10, 15, 20, 30, 40, 50, 75, 100],
        500: [1, 2, 3, 4, 6, 8, 10, 15, 20],
    },
    "fanout_seconds": 5.0,
    # The case: one member POSTs to a 500-member room at 20 messages/s.
    "rest_send_members": 500,
    "rest_send_rate": 20,
    "rest_send_seconds": 10.0,
    "idle_connections": 1000,
    "http_seconds": 10,
    "http_connections": 16,
    "ledger_workers": [1, 8, 32],
    "ledger_seconds": 10,
    "media_images": 24,
    "media_size": (2400, 1600),
    "media_repeat": 3,
    "search_messages": 1_000_000,
    "search_small_messages": 10_000,
    "search_repeat": 20,
}
TINY = {
    "fanout_sizes": [3],
    "fanout_rates": {3: [5]},
    "fanout_seconds": 1.0,
    "rest_send_members": 3,
    "rest_send_rate": 5,
    "rest_send_seconds": 1.0,
    "idle_connections": 5,
    "http_seconds": 1,
    "http_connections": 2,
    "ledger_workers": [1, 2],
    "ledger_seconds": 1,
    "media_images": 2,
    "media_size": (320, 240),
    "media_repeat": 1,
    "search_messages": 3_000,
    "search_small_messages": 500,
    "search_repeat": 1,
}
# The targets of issue #26 (docs/performance.md, "Targets").
TARGETS = {
    "fanout": {"10": 0.5, "100": 1.0, "500": 1.5},
    "rest_send_p99_to_floor": 2.0,
    "http": {
        "message_history": 0.3,
        "discover_page": 0.1,
        "discover_page_anonymous": 0.3,
        "room_page": 0.15,
    },
}


def ensure_database() -> None:
    """Create the PostgreSQL database named by DATABASE_URL when it does not exist."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    name = name.split("?")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django() -> None:
    from bench.server import server_env

    os.environ.update(server_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    ensure_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def run_fanout(config: dict, base: str, pid: int) -> dict:
    from bench import fanout
    from bench.server import rss_bytes

    base_ws = base.replace("http://", "ws://")
    results: dict = {"sizes": {}}
    for size in config["fanout_sizes"]:
        rates = config["fanout_rates"][size]
        seconds = config["fanout_seconds"]
        moim = moim_fanout(config, base, size)
        minimal = asyncio.run(
            fanout.websocket_fanout(
                urls=fanout.minimal_consumer_urls(base_ws, size),
                frame=fanout.minimal_frame,
                rates=rates,
                seconds=seconds,
            )
        )
        entry = {"moim": moim, "minimal_consumer": minimal}
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            entry["redis_pubsub"] = asyncio.run(
                fanout.redis_pubsub_fanout(
                    redis_url=redis_url, receivers_count=size, rates=rates, seconds=seconds
                )
            )
        entry["ratio_moim_to_minimal"] = fanout.ratio(
            moim["delivered_per_s_at_p99_target"], minimal["delivered_per_s_at_p99_target"]
        )
        results["sizes"][str(size)] = entry

    results["rest_send"] = run_rest_send(config, base)

    # Idle connections: server memory per open, subscribed room socket.
    async def idle(urls: list[str]) -> float:
        import websockets

        before = rss_bytes(pid)
        # Nothing reads these sockets, and every join is announced to the room: with the
        # default bounded queue the client stops reading, never sees the server's close
        # frame, and close() waits forever.
        sockets = [await websockets.connect(u, ping_interval=None, max_queue=None) for u in urls]
        await asyncio.sleep(1.0)
        after = rss_bytes(pid)
        await asyncio.wait_for(asyncio.gather(*(s.close() for s in sockets)), timeout=60)
        return (after - before) / len(urls)

    # The room and tickets are made here: the ORM may not run inside the event loop.
    per_connection = asyncio.run(idle(fanout.moim_room_urls(base_ws, config["idle_connections"])))
    results["idle_rss_bytes_per_connection"] = round(per_connection)
    results["idle_connections_per_gb"] = (
        round(2**30 / per_connection) if per_connection > 0 else None
    )
    return results


def moim_fanout(config: dict, base: str, size: int) -> dict:
    from bench import fanout

    return asyncio.run(
        fanout.websocket_fanout(
            urls=fanout.moim_room_urls(base.replace("http://", "ws://"), size),
            frame=fanout.moim_frame,
            # Sending before every socket has joined its group would count as loss.
            ready_marker='"ready"',
            rates=config["fanout_rates"][size],
            seconds=config["fanout_seconds"],
        )
    )


def moim_rest_send(config: dict, base: str) -> dict:
    from bench import fanout
    from profiles.models import User
    from profiles.tokens import refresh_token_for

    room_id, sender_id, urls = fanout.moim_room_with_tickets(
        base.replace("http://", "ws://"), config["rest_send_members"]
    )
    token = str(refresh_token_for(User.objects.get(pk=sender_id)).access_token)
    return asyncio.run(
        fanout.rest_send_fanout(
            urls=urls,
            post=fanout.moim_rest_poster(base, room_id, token),
            rate=config["rest_send_rate"],
            seconds=config["rest_send_seconds"],
            ready_marker='"ready"',
        )
    )


def run_other_layers(config: dict, suites: list[str]) -> dict:
    """Moim's fanout and REST-send figures on the channel layers it is not configured
    with (CHANNEL_LAYER_BACKEND), each on a second server started the same way right
    after the first: both layers side by side in one run, against the same baselines."""
    from django.conf import settings

    from bench.server import running_server
    from config.redis_clients import CHANNEL_LAYER_BACKENDS

    others: dict = {}
    for backend in CHANNEL_LAYER_BACKENDS:
        if backend == settings.CHANNEL_LAYER_BACKEND:
            continue
        entry: dict = {"sizes": {}}
        others[backend] = entry
        # A failed measurement (a socket refused on a loaded host) is recorded, not
        # allowed to lose the configured layer's results.
        with running_server(CHANNEL_LAYER_BACKEND=backend) as (base, _pid):
            for size in config["fanout_sizes"] if "fanout" in suites else []:
                entry["sizes"][str(size)] = _or_error(moim_fanout, config, base, size)
            entry["rest_send"] = _or_error(moim_rest_send, config, base)
    return others


def _or_error(measure, *args) -> dict:
    try:
        return measure(*args)
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}


# The pages measured against the trivial view (the discover page signed in, then anonymous).
HTTP_PAGES = ("message_history", "discover_page", "discover_page_anonymous", "room_page")


def run_rest_send(config: dict, base: str) -> dict:
    """Send→deliver latency of REST sends into a big room, against its floor (the same
    POSTs to an endpoint that only does ``group_send`` to as many bare consumers), run
    right before it at the same rate."""
    import time

    from bench import fanout

    base_ws = base.replace("http://", "ws://")
    members, rate, seconds = (
        config["rest_send_members"],
        config["rest_send_rate"],
        config["rest_send_seconds"],
    )
    group = f"r{time.time_ns()}"
    floor = asyncio.run(
        fanout.rest_send_fanout(
            urls=[f"{base_ws}/ws/bench/{group}/" for _ in range(members)],
            post=fanout.minimal_rest_poster(base, group),
            rate=rate,
            seconds=seconds,
        )
    )
    moim = moim_rest_send(config, base)
    return {
        "moim": moim,
        "floor": floor,
        "ratio_p99_to_floor": fanout.ratio(moim["p99_ms"], floor["p99_ms"]),
    }


def run_http(config: dict, base: str) -> dict:
    from django.test import Client

    from bench import fixtures, http
    from profiles.tokens import refresh_token_for

    if not http.wrk_available():
        return {"skipped": "wrk is not installed (make bench installs it)"}
    room, memberships = fixtures.room_with_history(messages=50)
    user = memberships[0].user
    token = str(refresh_token_for(user).access_token)
    client = Client()
    client.force_login(user)
    session = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    bearer = {"Authorization": f"Bearer {token}"}
    run = {"seconds": config["http_seconds"], "connections": config["http_connections"]}
    targets = {
        "trivial_json": (f"{base}/bench/trivial", {}),
        "message_history": (f"{base}/api/v1/rooms/{room.pk}/messages/?limit=50", bearer),
        # "/" and "/rooms/<id>/" are Chats and the chat screen for a member: the pages
        # themselves live at /discover/ and /rooms/<id>/info/.
        "discover_page": (f"{base}/discover/", session),
        "discover_page_anonymous": (f"{base}/discover/", {}),
        "room_page": (f"{base}/rooms/{room.pk}/info/", session),
    }
    results = {}
    for name, (url, headers) in targets.items():
        # Discarded: a process's first concurrent requests on a path pay its one-time
        # set-up (a wave of 16 took ~2 s for the first target to reach the database),
        # which would be charged to whichever target happens to come first.
        http.wrk(url, headers=headers, seconds=1, connections=run["connections"])
        results[name] = http.wrk(url, headers=headers, **run)
    trivial = results["trivial_json"]["requests_per_s"]
    for name in HTTP_PAGES:
        results[name]["ratio_to_trivial"] = round(results[name]["requests_per_s"] / trivial, 3)
    return results


def run_optional(module: str, config: dict) -> dict:
    """Suites that live with their domain code (ledger, media) expose ``run(config)``."""
    import importlib

    try:
        suite = importlib.import_module(module)
    except ImportError as exc:
        return {"skipped": f"{module} not available: {exc}"}
    return suite.run(config)


def markdown(results: dict) -> str:
    rows = ["| suite | Moim | baseline | ratio | target |", "| --- | --- | --- | --- | --- |"]
    fan = results.get("fanout", {})
    for size, entry in fan.get("sizes", {}).items():
        target = TARGETS["fanout"].get(size, "")
        rows.append(
            f"| fanout N={size}: delivered msg/s at p99 ≤ 250 ms "
            f"(p99 {entry['moim']['p99_ms']} ms, lost {entry['moim']['lost_total']}) "
            f"| {entry['moim']['delivered_per_s_at_p99_target']} "
            f"| {entry['minimal_consumer']['delivered_per_s_at_p99_target']} (minimal consumer)"
            + (
                f"; {entry['redis_pubsub']['delivered_per_s_at_p99_target']} (Redis pub/sub)"
                if "redis_pubsub" in entry
                else ""
            )
            + f" | {entry['ratio_moim_to_minimal']} | {target} |"
        )
    if "rest_send" in fan:
        entry = fan["rest_send"]
        moim, floor = entry["moim"], entry["floor"]
        rows.append(
            f"| REST send to a {moim['members']}-member room at {moim['offered_per_s']}/s: "
            f"send→deliver p99 ms (p50 {moim['p50_ms']} ms, lost {moim['lost']}, "
            f"sent at {moim['achieved_send_per_s']}/s) | {moim['p99_ms']} "
            f"| {floor['p99_ms']} (bare consumer, POST → group_send) "
            f"| {entry['ratio_p99_to_floor']} | ≤ {TARGETS['rest_send_p99_to_floor']} |"
        )
    # Moim on the layer(s) it is not configured with, against this run's same baselines.
    for backend, other in fan.get("other_layers", {}).items():
        for size, moim in other.get("sizes", {}).items():
            if "error" in moim:
                rows.append(
                    f"| fanout N={size} (Moim on the {backend} layer): {moim['error']} | | | | |"
                )
                continue
            minimal = fan["sizes"][size]["minimal_consumer"]["delivered_per_s_at_p99_target"]
            ratio = round(moim["delivered_per_s_at_p99_target"] / minimal, 3) if minimal else None
            rows.append(
                f"| fanout N={size} (Moim on the {backend} layer; the rows above: "
                f"{fan['channel_layer']}): delivered msg/s at p99 ≤ 250 ms "
                f"(p99 {moim['p99_ms']} ms, lost {moim['lost_total']}) "
                f"| {moim['delivered_per_s_at_p99_target']} | {minimal} (minimal consumer) "
                f"| {ratio} | |"
            )
        if "error" in other.get("rest_send", {}):
            error = other["rest_send"]["error"]
            rows.append(f"| REST send (Moim on the {backend} layer): {error} | | | | |")
        elif "rest_send" in other and "rest_send" in fan:
            moim, floor = other["rest_send"], fan["rest_send"]["floor"]
            ratio = round(moim["p99_ms"] / floor["p99_ms"], 3) if floor["p99_ms"] else None
            rows.append(
                f"| REST send to a {moim['members']}-member room at {moim['offered_per_s']}/s "
                f"(Moim on the {backend} layer): send→deliver p99 ms (p50 {moim['p50_ms']} ms, "
                f"lost {moim['lost']}) | {moim['p99_ms']} | {floor['p99_ms']} (floor above) "
                f"| {ratio} | |"
            )
    if "idle_connections_per_gb" in fan:
        rows.append(
            f"| idle sockets per GB of server RSS ({fan['idle_rss_bytes_per_connection']} B each) "
            f"| {fan['idle_connections_per_gb']} | | | ≥ 10000 |"
        )
    http = results.get("http", {})
    for name in HTTP_PAGES:
        if name in http:
            entry = http[name]
            target = TARGETS["http"][name]
            rows.append(
                f"| HTTP {name.replace('_', ' ')} req/s (p50 {entry['p50_ms']} ms, "
                f"p99 {entry['p99_ms']} ms) | {entry['requests_per_s']} "
                f"| {http['trivial_json']['requests_per_s']} (trivial JsonResponse) "
                f"| {entry['ratio_to_trivial']} | {target} |"
            )
    for suite in ("ledger", "media", "search"):
        for row in results.get(suite, {}).get("rows", []):
            rows.append(row)
    return "\n".join(rows) + "\n"


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB"
    return f"{platform.machine()}, {cpus} cores{memory}, Python {platform.python_version()}"


def write(results: dict, tiny: bool, directory: Path = RESULTS) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    table = markdown(results)
    name = "tiny" if tiny else "latest"
    (directory / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (directory / f"{name}.md").write_text(table)
    if not tiny and directory == RESULTS and DOC.exists():
        text = DOC.read_text()
        start, end = "<!-- bench:start -->", "<!-- bench:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            block = f"{start}\nRun of {results['ran_at']} on {results['machine']}.\n\n{table}{end}"
            DOC.write_text(head + block + tail)
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument(
        "--suite",
        action="append",
        choices=["fanout", "rest_send", "http", "ledger", "media", "search"],
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write the JSON and Markdown"
    )
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    suites = args.suite or ["fanout", "http", "ledger", "media", "search"]
    setup_django()
    from bench.server import running_server

    results: dict = {
        "ran_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tiny": args.tiny,
        "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
        "redis": bool(os.environ.get("REDIS_URL")),
    }
    from bench.fixtures import retire_earlier_bench_rooms

    results["earlier_bench_rooms_archived"] = retire_earlier_bench_rooms()
    if {"fanout", "rest_send", "http"} & set(suites):
        with running_server() as (base, pid):
            if "fanout" in suites:
                results["fanout"] = run_fanout(config, base, pid)
            elif "rest_send" in suites:  # part of fanout; alone for quick before/after runs
                results["fanout"] = {"rest_send": run_rest_send(config, base)}
            if "http" in suites:
                results["http"] = run_http(config, base)
        if {"fanout", "rest_send"} & set(suites) and results["redis"]:
            from django.conf import settings

            results["fanout"]["channel_layer"] = settings.CHANNEL_LAYER_BACKEND
            results["fanout"]["other_layers"] = run_other_layers(config, suites)
    if "ledger" in suites:
        results["ledger"] = run_optional("bench.ledger", config)
    if "media" in suites:
        results["media"] = run_optional("bench.media", config)
    if "search" in suites:
        results["search"] = run_optional("bench.search", config)
    write(results, args.tiny, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
