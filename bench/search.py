"""Search inside a room at 1,000,000 messages: the latency of ``GET messages/?q=`` over a mix
of terms (common, medium, rare and absent; Korean, Japanese and English; one, two and
three or more characters), against the same mix in a room of 10,000 messages.

The rooms are filled with ``INSERT … SELECT generate_series`` (a million rows in a few
minutes with the search index kept up to date); words come from a small vocabulary in
three languages, plus marker words at known rates. PostgreSQL only: the n-gram index is.
"""

import statistics
import time

from django.db import connection

# (term, how often a message carries it in the generated rooms)
MARKERS = (
    ("zebra", 10_000),  # rare, English
    ("칼국수", 50_000),  # rare, Korean, 3 characters
    ("珍しい猫", 100_000),  # rare, Japanese
    ("밥", 1_000),  # one Korean character
    ("中間", 150),  # medium, two characters: a page is not found among the latest
)
QUERIES = (
    "zebra", "칼국수", "珍しい猫", "밥", "中間",
    "회의", "jazz", "the", "東京", "회의 jazz",  # common: the page fills at once
    "없는말", "nothere",  # absent
)  # fmt: skip
_WORDS = (
    "회의 사진 오늘 내일 점심 저녁 커피 음악 공연 재즈 서울 부산 친구 여행 주말 영화 게임"
    " 공부 시험 날씨 안녕하세요 감사합니다 좋아요 정말 진짜 그래서 우리 모임 시간 장소"
    " 東京 大阪 音楽 写真 今日 明日 ライブ コーヒー ありがとう こんにちは 楽しい 週末 映画"
    " 旅行 友達 ジャズ ラーメン 駅 会議 時間"
    " the a is to and jazz live tonight music meet coffee photo weekend concert station great"
    " thanks see you at hello world cat concatenate running run band show ticket drink"
)
VOCABULARY = _WORDS.split()


def fill_room(room, memberships, count: int) -> None:
    """``count`` messages in ``room`` in one statement: 3 to 11 words each, by the room's
    members in turn, and the markers at their rates."""
    authors = [membership.pk for membership in memberships]
    markers = " ".join(
        f"|| CASE WHEN g % {every} = {index} THEN ' {term}' ELSE '' END"
        for index, (term, every) in enumerate(MARKERS, start=7)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO community_message
                (room_id, author_id, kind, body, client_id, seq, created_at)
            SELECT %s, (%s::bigint[])[1 + g %% %s], 'text',
                (SELECT string_agg(
                    (%s::text[])[1 + floor(random() * %s)::int + 0 * s], ' ')
                 FROM generate_series(1, 3 + g %% 9) s) {markers.replace("%", "%%")},
                '', g, now() - make_interval(secs => %s - g)
            FROM generate_series(1, %s) g
            """,
            [room.pk, authors, len(authors), list(VOCABULARY), len(VOCABULARY), count, count],
        )
        cursor.execute(
            "UPDATE community_room SET last_message_seq = %s WHERE id = %s", [count, room.pk]
        )
        cursor.execute("ANALYZE community_message")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 2)


def time_queries(room, user, repeat: int) -> dict:
    from django.db import reset_queries
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="127.0.0.1")  # the bench settings' ALLOWED_HOSTS
    client.force_authenticate(user)
    url = f"/api/v1/rooms/{room.pk}/messages/"
    for q in QUERIES:  # warm up: plans, caches
        assert client.get(url, {"q": q}).status_code == 200
    timings, query_counts, per_term = [], set(), {}
    for _ in range(repeat):
        for q in QUERIES:
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, {"q": q})
                elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.content
            timings.append(elapsed)
            per_term.setdefault(q, []).append(elapsed)
            query_counts.add(len(queries))
    return {
        "requests": len(timings),
        "p50_ms": _percentile(timings, 0.5),
        "p99_ms": _percentile(timings, 0.99),
        "max_ms": round(max(timings), 2),
        "query_counts": sorted(query_counts),
        "median_ms_by_query": {q: round(statistics.median(v), 2) for q, v in per_term.items()},
    }


def run(config: dict) -> dict:
    """``bench.run``'s entry point: the figures plus the Markdown row."""
    from bench.fixtures import room_with_members

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL in DATABASE_URL (the search index)"}
    large, small = config["search_messages"], config["search_small_messages"]
    repeat = config["search_repeat"]
    results = {}
    for name, count in (("small", small), ("large", large)):
        room, memberships = room_with_members(5, title=f"Bench search {count}")
        started = time.monotonic()
        fill_room(room, memberships, count)
        results[name] = {
            "messages": count,
            "fill_seconds": round(time.monotonic() - started, 1),
            **time_queries(room, memberships[0].user, repeat),
        }
    large, small = results["large"], results["small"]
    results["ratio_large_to_small_p99"] = round(large["p99_ms"] / small["p99_ms"], 3)
    results["rows"] = [
        f"| search in a room of {large['messages']:,} messages: p99 ms over"
        f" {large['requests']} searches (p50 {large['p50_ms']} ms, queries per search"
        f" {large['query_counts']}) | {large['p99_ms']}"
        f" | {small['p99_ms']} (the same searches, {small['messages']:,} messages)"
        f" | {results['ratio_large_to_small_p99']} | p99 ≤ 100 ms |"
    ]
    return results
