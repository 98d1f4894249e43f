"""A small web server on loopback serving pages a test defines, counting requests:
the sites link previews fetch (tests/community/links).

``server.page("/a", body=..., content_type=..., status=..., headers=..., delay=...,
drip=...)`` defines a route; ``server.url("/a")`` is its address; ``server.hits["/a"]``
counts the requests it got. It binds port 0 (the kernel's choice), so parallel workers
and other test runs never collide.
"""

import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering.
    delay: float = 0.0
    # Send the body a byte at a time, this many seconds apart (a slow drip).
    drip: float = 0.0
    # Leave Content-Length out (the body ends when the connection closes).
    send_length: bool = True


class WebPages:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: Counter = Counter()
        self.user_agents: list[str] = []
        self.stopping = threading.Event()
        pages = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                pages.hits[path] += 1
                pages.user_agents.append(self.headers.get("User-Agent", ""))
                route = pages.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                if route.delay and pages.stopping.wait(route.delay):
                    return
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    if route.send_length:
                        self.send_header("Content-Length", str(len(route.body)))
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if route.drip:
                        for index in range(len(route.body)):
                            if pages.stopping.wait(route.drip):
                                return
                            self.wfile.write(route.body[index : index + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what the size limit does

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """``ip:port``, as ``LINK_PREVIEW_ALLOWED_ADDRESSES`` names it."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self, path: str, **kwargs) -> str:
        body = kwargs.pop("body", b"")
        kwargs["body"] = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(**kwargs)
        return self.url(path)

    def start(self) -> "WebPages":
        self.thread.start()
        return self

    def stop(self) -> None:
        # Handler threads waiting in a delay or a drip wake on ``stopping`` and end.
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def og_page(*, title: str, description: str = "", image: str = "", site: str = "") -> str:
    """An HTML page whose head carries Open Graph tags (values HTML-escaped here)."""
    from html import escape

    tags = [f'<meta property="og:title" content="{escape(title)}">']
    if description:
        tags.append(f'<meta property="og:description" content="{escape(description)}">')
    if image:
        tags.append(f'<meta property="og:image" content="{escape(image)}">')
    if site:
        tags.append(f'<meta property="og:site_name" content="{escape(site)}">')
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>fallback</title>"
        + "".join(tags)
        + "</head><body><p>Hello</p></body></html>"
    )
