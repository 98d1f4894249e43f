"""Every benchmark suite in its tiny configuration, so the bench code cannot rot.

Nothing here is timed and no figure is compared with a target: the full run
(``make bench``) is not a test. The suites need PostgreSQL (the ledger's triggers,
pgbench, a server process that can see the data), Redis (the channel layer across the
server and pub/sub baseline), wrk and pgbench; ``make test`` installs the tools, and a
test run on SQLite borrows the PostgreSQL and Redis on 127.0.0.1 for the subprocess.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from community.chat.models import Message
from community.media.models import MediaAsset

# Alone (the other worker waits): the tiny fanout has one step of five messages, and a
# busy second core can push even the bare consumer's p99 past the 250 ms mark, leaving
# no ratio to check.
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.serial]

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/test_moim_bench_tiny"
LOCAL_REDIS = "redis://127.0.0.1:6379/7"


def _bench_database_url() -> str:
    """The test run's own database on PostgreSQL; on SQLite, a bench database on the
    local PostgreSQL (a server subprocess cannot see an in-memory SQLite database)."""
    if settings.IS_POSTGRES:
        parts = urlsplit(os.environ["DATABASE_URL"])
        return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    import psycopg

    try:
        psycopg.connect(LOCAL_POSTGRES.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip("the benchmarks need PostgreSQL; none in DATABASE_URL or on 127.0.0.1")
    return LOCAL_POSTGRES


def _bench_redis_url() -> str:
    return os.environ.get("REDIS_URL") or LOCAL_REDIS


@pytest.fixture(scope="module")
def tiny_results(django_db_setup, django_db_blocker, tmp_path_factory) -> dict:
    """One ``python -m bench.run --tiny`` for the whole module: it takes ~30 s."""
    out = tmp_path_factory.mktemp("bench")
    with django_db_blocker.unblock():
        database_url = _bench_database_url()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": _bench_redis_url()}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--results", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    results = json.loads((out / "tiny.json").read_text())
    results["_table"] = (out / "tiny.md").read_text()
    yield results
    if settings.IS_POSTGRES:
        # The run wrote users, rooms and transfers into the test database: empty it, as a
        # transactional test does, so that the tests after these start from nothing.
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def test_every_suite_ran_none_skipped(tiny_results):
    for suite in ("fanout", "http", "ledger", "media", "search"):
        assert suite in tiny_results
        assert "skipped" not in tiny_results[suite], tiny_results[suite]
    assert tiny_results["tiny"] is True
    assert tiny_results["redis"] is True
    assert tiny_results["machine"]


def test_fanout_reports_latency_loss_and_ratios_against_both_baselines(tiny_results):
    fanout = tiny_results["fanout"]
    assert fanout["sizes"]
    for entry in fanout["sizes"].values():
        for system in ("moim", "minimal_consumer", "redis_pubsub"):
            figures = entry[system]
            assert _number(figures["delivered_per_s_at_p99_target"])
            assert isinstance(figures["lost_total"], int)
            assert "lost_at_80pct_saturation" in figures
            step = figures["steps"][0]
            for key in ("p50_ms", "p95_ms", "p99_ms", "lost", "sent", "received"):
                assert key in step
            assert step["sent"] > 0
        assert _number(entry["ratio_moim_to_minimal"])
    assert _number(fanout["idle_rss_bytes_per_connection"])


def test_rest_send_reports_send_to_deliver_latency_against_its_floor(tiny_results):
    rest_send = tiny_results["fanout"]["rest_send"]
    for system in ("moim", "floor"):
        figures = rest_send[system]
        assert figures["sent"] > 0
        assert figures["failed_posts"] == 0, figures
        assert figures["expected"] == figures["sent"] * figures["members"]
        assert isinstance(figures["lost"], int)
        for key in ("p50_ms", "p95_ms", "p99_ms", "post_p50_ms", "achieved_send_per_s"):
            assert _number(figures[key]), (key, figures)
    assert _number(rest_send["ratio_p99_to_floor"])


def test_http_measures_each_page_against_the_trivial_view(tiny_results):
    http = tiny_results["http"]
    assert http["trivial_json"]["requests_per_s"] > 0
    for name in ("message_history", "discover_page", "discover_page_anonymous", "room_page"):
        entry = http[name]
        assert entry["requests_per_s"] > 0
        # Every request answered 2xx: a redirect to the login page would be measured
        # as a fast page.
        assert entry["errors"] == 0
        assert _number(entry["p50_ms"]) and _number(entry["p99_ms"])
        assert _number(entry["ratio_to_trivial"])


def test_ledger_runs_spread_and_hot_against_pgbench_and_the_ledger_still_checks(tiny_results):
    ledger = tiny_results["ledger"]
    assert ledger["workers"]
    for entry in ledger["workers"].values():
        for key in (
            "spread_tps",
            "hot_tps",
            "creators_tps",
            "pgbench_tps",
            "spread_ratio",
            "hot_ratio",
            "creators_ratio",
        ):
            assert _number(entry[key]) and entry[key] > 0, (key, entry)
        # A share of the sampled busy sessions: how long the hot creator's rows made
        # others wait.
        for share in ("hot_lock_wait_share", "creators_lock_wait_share"):
            assert _number(entry[share]), entry
            assert 0 <= entry[share] <= 1, entry
    assert ledger["ledger_check"]["passed"] is True, ledger["ledger_check"]


def test_media_compares_the_pipeline_with_bare_pillow(tiny_results):
    media = tiny_results["media"]
    assert media["pipeline_images_per_s"] > 0
    assert media["bare_images_per_s"] > 0
    assert _number(media["ratio"])


def test_search_times_the_same_searches_in_a_large_and_a_small_room(tiny_results):
    search = tiny_results["search"]
    for size in ("large", "small"):
        entry = search[size]
        assert entry["requests"] > 0
        assert _number(entry["p50_ms"]) and _number(entry["p99_ms"])
        # A constant number of queries per search: with matches, or without any.
        assert len(entry["query_counts"]) <= 2, entry["query_counts"]
    assert search["large"]["messages"] > search["small"]["messages"]
    assert _number(search["ratio_large_to_small_p99"])


def test_the_markdown_table_has_a_row_per_figure(tiny_results):
    table = tiny_results["_table"].splitlines()
    assert table[0] == "| suite | Moim | baseline | ratio | target |"
    body = "\n".join(table[2:])
    for fragment in (
        "fanout N=",
        "idle sockets",
        "REST send to a",
        "message history",
        "discover page",
        "discover page anonymous",
        "room page",
        "ledger transfers/s",
        "hot creator",
        "200 creators",
        "ledger_check",
        "media images/s",
        "search in a room of",
    ):
        assert fragment in body
    for row in table[2:]:
        assert row.count("|") == 6, row


@pytest.mark.django_db(transaction=True)
def test_history_fixture_makes_the_endpoint_do_its_full_work(api_client):
    """The history page measured by the HTTP suite: 50 messages with authors, replies,
    processed images and several emoji with counts."""
    from bench.fixtures import room_with_history

    room, memberships = room_with_history(messages=50)
    api_client.force_authenticate(memberships[0].user)
    response = api_client.get(f"/api/v1/rooms/{room.pk}/messages/?limit=50")

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 50
    assert all(message["author"] for message in results)
    images = [m for m in results if m["kind"] == Message.Kind.IMAGE]
    assert len(images) == 10
    assert all(m["media"]["state"] == MediaAsset.State.READY for m in images)
    reacted = [m for m in results if m["reactions"]]
    assert len(reacted) >= 35
    assert any(len(m["reactions"]) >= 2 for m in reacted)
    assert any(reaction["count"] >= 2 for m in reacted for reaction in m["reactions"])
