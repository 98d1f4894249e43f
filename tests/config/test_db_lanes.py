"""Room sockets' database work on lanes (config/db_lanes.py): one room's calls in order
on one thread, other rooms' calls not queued behind them."""

import asyncio
import threading

import pytest

from config.db_lanes import in_lane

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
