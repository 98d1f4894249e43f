"""Room sockets' database work on lanes (config/db_lanes.py): one room's calls in order
on one thread, other rooms' calls not queued behind them."""

import asyncio
import contextlib
import threading

import pytest

from config.db_lanes import in_lane, in_lane_batch

# Its teardown closes the connections of the database thread and of every lane.
pytestmark = pytest.mark.usefixtures("fresh_channel_layer")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lanes", [1, 4])
async def test_one_rooms_calls_run_in_the_order_they_were_made(settings, lanes):
    settings.REALTIME_DB_LANES = lanes
    order: list[int] = []
    await asyncio.gather(*(in_lane(7, order.append)(index) for index in range(50)))
    assert order == list(range(50))


@pytest.mark.django_db(transaction=True)
async def test_a_busy_room_does_not_hold_up_another_room(settings):
    settings.REALTIME_DB_LANES = 2
    release = threading.Event()
    started = threading.Event()

    def busy_room() -> str:
        started.set()
        release.wait(30)
        return "busy"

    blocked = asyncio.ensure_future(in_lane(0, busy_room)())
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
    # Room 1's call completes while room 0's is still running.
    assert await asyncio.wait_for(in_lane(1, lambda: "other")(), 30) == "other"
    assert not blocked.done()
    release.set()
    assert await blocked == "busy"


@pytest.mark.django_db(transaction=True)
async def test_lanes_off_runs_every_room_on_the_single_database_thread(settings):
    settings.REALTIME_DB_LANES = 0
    names = {await in_lane(room, lambda: threading.current_thread().name)() for room in range(4)}
    assert len(names) == 1
    assert not next(iter(names)).startswith("db-lane-")


@pytest.mark.django_db(transaction=True)
async def test_a_lane_reads_committed_data(settings, make_user):
    settings.REALTIME_DB_LANES = 2
    from asgiref.sync import sync_to_async

    from profiles.models import User

    user = await sync_to_async(make_user)("laneuser")
    assert await in_lane(3, User.objects.filter(pk=user.pk).exists)()


@contextlib.asynccontextmanager
async def held_lane(key: int):
    """``key``'s lane busy until the block ends."""
    release = threading.Event()
    busy = asyncio.ensure_future(in_lane(key, release.wait)(10))
    try:
        yield
    finally:
        release.set()
        await busy


class _Batches:
    """A batch function that records each batch it was given."""

    def __init__(self) -> None:
        self.seen: list[list] = []

    def __call__(self, items):
        self.seen.append(list(items))
        if "explode" in items:
            raise RuntimeError("the batch failed")
        return [ValueError(item) if item.startswith("bad") else item.upper() for item in items]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lanes", [0, 2])
async def test_calls_made_while_the_lane_is_busy_go_as_one_batch(settings, lanes):
    settings.REALTIME_DB_LANES = lanes
    run = _Batches()
    async with held_lane(5):
        first = asyncio.ensure_future(in_lane_batch(5, run, "first"))
        await asyncio.sleep(0.05)  # the first batch went to the lane, behind the busy call
        later = [asyncio.ensure_future(in_lane_batch(5, run, item)) for item in ["a", "bad", "c"]]
        await asyncio.sleep(0.05)
    assert await first == "FIRST"
    assert [await later[0], await later[2]] == ["A", "C"]
    with pytest.raises(ValueError, match="bad"):
        await later[1]  # only its own caller hears of it
    assert run.seen == [["first"], ["a", "bad", "c"]]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_batch_fails_its_callers_and_the_next_batch_runs(settings):
    settings.REALTIME_DB_LANES = 2
    run = _Batches()
    async with held_lane(3):
        doomed = [asyncio.ensure_future(in_lane_batch(3, run, item)) for item in ["x", "explode"]]
        await asyncio.sleep(0.05)
    for caller in doomed:
        with pytest.raises(RuntimeError, match="the batch failed"):
            await caller
    assert await in_lane_batch(3, run, "after") == "AFTER"


@pytest.mark.django_db(transaction=True)
async def test_a_caller_that_went_away_does_not_stop_its_batch(settings):
    settings.REALTIME_DB_LANES = 2
    run = _Batches()
    async with held_lane(4):
        gone = asyncio.ensure_future(in_lane_batch(4, run, "gone"))
        stays = asyncio.ensure_future(in_lane_batch(4, run, "stays"))
        await asyncio.sleep(0.05)
        gone.cancel()  # its socket closed
    assert await stays == "STAYS"
    assert run.seen == [["gone", "stays"]]


@pytest.mark.django_db(transaction=True)
async def test_different_rooms_batch_apart(settings):
    settings.REALTIME_DB_LANES = 4
    run = _Batches()
    results = await asyncio.gather(*(in_lane_batch(room, run, f"r{room}") for room in range(3)))
    assert results == ["R0", "R1", "R2"]
    assert sorted(map(tuple, run.seen)) == [("r0",), ("r1",), ("r2",)]
