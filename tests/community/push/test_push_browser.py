"""Web Push in Chromium: Settings › Notifications asks the permission, subscribes
through the service worker with the server's VAPID key and registers the subscription;
a mention is pushed to the (local) push service, and the push reaches the service
worker, which shows the notification.

Chromium's own ``pushManager.subscribe`` talks to Google's push service (FCM), which
this machine cannot reach. So only that one call is replaced (an init script): it hands
the page a subscription of the local push service, whose keys the test holds, and
records the ``applicationServerKey`` it was asked for. The push the server sends is
received and decrypted by the local push service (RFC 8291), and its plaintext is
delivered to the real service worker through the DevTools protocol
(``ServiceWorker.deliverPushMessage``), as Chromium's push client would after
decrypting. docs/push.md says the same.
"""

import json

import pytest
from push_notifications.models import WebPushDevice

from community.chat.services import send_message
from community.rooms.models import Membership

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SUBSCRIBE_STUB = """
(() => {
  const subscription = %s;
  // Like the browser's, the subscription outlives a reload (kept in this tab's storage).
  const made = () => ({
    endpoint: subscription.endpoint,
    toJSON: () => subscription,
    unsubscribe: () => { sessionStorage.removeItem("stub-push"); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    sessionStorage.setItem("stub-push", JSON.stringify({
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    }));
    return Promise.resolve(made());
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(sessionStorage.getItem("stub-push") ? made() : null);
  };
})();
"""


def _registrations(cdp) -> list[dict]:
    found: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    return found


def test_turn_on_notifications_and_see_a_mention_arrive(
    new_person, make_user, make_room, make_member, push_service, vapid
):
    from py_vapid.utils import b64urldecode

    from community.push.senders import vapid_public_key

    host, guest = make_user("host"), make_user("guest")
    room = make_room(owner=host, nickname="Captain", title="Night owls")
    make_member(room, guest, nickname="Moonlight")
    subscription = push_service.subscribe()

    person = new_person(init_script=SUBSCRIBE_STUB % json.dumps(subscription.as_json()))
    person.log_in(guest)
    person.context.grant_permissions(["notifications"], origin=person.server.url)
    page = person.goto("/settings/notifications/")
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")

    page.get_by_role("button", name="Turn on notifications").click()
    page.wait_for_load_state("load")
    page.get_by_text("Notifications are on for this browser.").wait_for()
    options = page.evaluate("JSON.parse(sessionStorage.getItem('stub-push'))")
    assert options["userVisibleOnly"] is True
    assert bytes(options["key"]) == b64urldecode(vapid_public_key().encode())
    device = WebPushDevice.objects.get(user=guest)
    assert device.registration_id == subscription.endpoint
    assert page.get_by_role("button", name="Turn off notifications on this browser").is_visible()

    # The host mentions the guest: the server pushes to the push service.
    host_member = Membership.objects.get(room=room, user=host)
    message = send_message(membership=host_member, body="@Moonlight are you up?")
    [received] = push_service.messages_for(subscription)
    assert received["payload"]["url"] == f"/rooms/{room.pk}/#message-{message.pk}"

    # ...and the push service hands it to the browser's service worker.
    cdp = person.context.new_cdp_session(page)
    registrations = _registrations(cdp)
    page.wait_for_timeout(200)  # the enable call's events
    [registration] = [r for r in registrations if r["scopeURL"].rstrip("/") == person.server.url]
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": person.server.url,
            "registrationId": registration["registrationId"],
            "data": json.dumps(received["payload"]),
        },
    )
    # The list as the wait saw it: a second getNotifications() call came back empty once.
    [shown] = page.wait_for_function(
        "() => navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(list => list.length === 1"
        " && list.map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"
    ).json_value()
    assert shown["title"] == "Night owls"
    assert shown["body"].startswith("Captain mentioned you in Night owls")
    assert shown["body"].endswith("@Moonlight are you up?")
    assert shown["data"]["url"] == f"/rooms/{room.pk}/#message-{message.pk}"
    assert shown["tag"] == received["payload"]["tag"]
