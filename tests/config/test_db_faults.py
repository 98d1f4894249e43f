"""PostgreSQL faults against a production-like ASGI process and a private cluster.

The test starts its own PostgreSQL (``initdb`` into a temporary directory, a free
port), copies the test database into it, serves the app from a uvicorn subprocess
pointed at it, and restarts or starves that server. The shared PostgreSQL is only
read (``pg_dump`` of the test database).
"""

import concurrent.futures

import pytest

from tests.faults.processes import app_on_private_postgres, http, postgres_bindir

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bindir() is None, reason="needs initdb and pg_ctl"),
    pytest.mark.django_db(transaction=True),
]

ROOMS = "/api/v1/rooms/"


@pytest.fixture
def app_server(make_room, tmp_path):
    make_room(title="Survives restarts")  # a row to read back
    with app_on_private_postgres(
        str(tmp_path / "uvicorn.log"), DB_POOL_MIN="4", DB_POOL_MAX="8", DB_POOL_TIMEOUT="5"
    ) as (cluster, _url, base):
        yield cluster, base


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_first_request_after_a_database_restart_succeeds(app_server, mode):
    cluster, base = app_server
    # Several requests at once, so the pool holds several connections.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        warm = list(pool.map(lambda _: http("GET", base + ROOMS).status_code, range(16)))
    assert warm == [200] * 16

    cluster.restart(mode)  # every pooled connection is now dead

    statuses = [http("GET", base + ROOMS) for _ in range(12)]
    assert [response.status_code for response in statuses] == [200] * 12
    assert statuses[0].json()["results"][0]["title"] == "Survives restarts"


def test_a_database_that_is_down_answers_503_with_retry_after_not_500(app_server):
    cluster, base = app_server
    assert http("GET", base + ROOMS).status_code == 200
    cluster.pg_ctl("stop", "-m", "fast")
    api = http("GET", base + ROOMS)
    page = http("GET", base + "/rooms/")
    cluster.pg_ctl("start")
    after = http("GET", base + ROOMS)
    assert api.status_code == 503, api.text
    assert int(api.headers["Retry-After"]) > 0
    assert api.json()["error"]["code"] == "service_unavailable"
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) > 0
    assert after.status_code == 200
