"""The chat page in a browser (tests/support/browser.py's harness), for the community
browser tests: a person's page with the room sockets reachable, sending, reading seqs.

A test module that uses the bare chat page (``/chat-test/<room_id>/``) sets
``LIVE_SERVER_URLCONF = CHAT_PAGE_URLCONF``."""

CHAT_PAGE_URLCONF = "tests.community.chat_page_urls"

# Keeps the page's sockets reachable.
INIT_SCRIPT = """
window.__sockets = [];
var NativeWebSocket = window.WebSocket;
window.WebSocket = function (url) {
  var s = new NativeWebSocket(url);
  // Room sockets only: every page also opens the per-user /ws/me/ (badge.js).
  if (String(url).indexOf("/ws/rooms/") !== -1) window.__sockets.push(s);
  return s;
};
window.WebSocket.OPEN = NativeWebSocket.OPEN;
"""


def page_for(new_person, user):
    """``user``'s own signed-in page (a browser context of their own)."""
    return new_person(init_script=INIT_SCRIPT).log_in(user).page


def say(page, text: str) -> None:
    page.fill("[data-chat-input]", text)
    page.press("[data-chat-input]", "Enter")


def seqs(page) -> list[int]:
    return page.eval_on_selector_all(
        ".chat-messages .chat-message[data-seq]", "nodes => nodes.map(n => Number(n.dataset.seq))"
    )
