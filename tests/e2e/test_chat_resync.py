"""The web client resyncs from the highest contiguous seq (docs/realtime.md, issue #20).

A socket that drops right after a message that came early (its predecessor lost in the
network) must not skip the predecessor: reconnecting with ``?after=<highest seq>`` did,
for good, when the REST gap fill could not run either (the network was down).
"""

import json
import re

from playwright.sync_api import expect

from tests.e2e.scenario_data import chat_message, join, make_person, make_room, open_room, say
from tests.support.browser import DESKTOP


def test_a_socket_dropped_at_a_gap_resyncs_without_losing_the_message(new_person):
    host = make_person("hana")
    room = make_room(host)
    member = make_person("bob")
    join(room, member, "Night Owl")
    say(room, host, "one")

    person = new_person(DESKTOP).log_in(member)
    page = person.page
    urls: list[str] = []
    network = {"cut": True}

    def route_socket(ws):
        urls.append(ws.url)
        server = ws.connect_to_server()

        def from_server(message):
            event = json.loads(message)
            seq = (event.get("message") or {}).get("seq") if isinstance(event, dict) else None
            if network["cut"] and event.get("type") == "message.created" and seq == 2:
                return  # lost on the way
            ws.send(message)
            if network["cut"] and seq == 3:  # 3 arrived before 2, then the link drops
                network["cut"] = False
                ws.close(code=1012)
                server.close()

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws/rooms/"), route_socket)
    # While the link is down the client's REST gap fill cannot reach the server either.
    page.route(re.compile(r"/messages/\?.*after="), lambda route: route.abort())

    open_room(person, room)
    say(room, host, "two")
    say(room, host, "three")

    expect(chat_message(page, "three")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=10_000)
    expect(chat_message(page, "two")).to_be_visible()
    assert len(urls) >= 2
    assert urls[1].endswith("?after=1"), urls  # the highest contiguous seq, not 3
    order = chat_message(page, "").evaluate_all(
        "nodes => nodes.map(node => Number(node.dataset.seq)).filter(Boolean)"
    )
    assert order == [1, 2, 3]
