"""The guarded HTTP client of link previews, and the page's metadata.

Anyone may paste any URL into a chat, and the server then fetches it: that must never
reach the server's own network (SSRF). So, on every request (the first and each
redirect):

* only ``http``/``https`` on ports 80 and 443, no credentials in the URL;
* the host is resolved here, and refused when any address it resolves to is not a
  public unicast address (private, loopback, link-local, multicast, reserved,
  unspecified, shared, documentation…; an IPv6 address that embeds an IPv4 one
  (mapped, 6to4, Teredo, NAT64) is judged by the IPv4 address);
* the connection goes to the address that was checked (HTTPS still verifies the
  certificate for the host name), so DNS cannot answer differently in between;
* at most ``LINK_PREVIEW_MAX_REDIRECTS`` redirects, a body of at most ``max_bytes``
  (pages: HTML only; images: the image types media accepts), no compression, and one
  deadline for the whole fetch, DNS included (``LINK_PREVIEW_TIMEOUT_SECONDS``).

``LINK_PREVIEW_ALLOWED_ADDRESSES`` (``"ip:port"`` entries, empty unless a test sets it)
lets the tests' own local server through; nothing reads it from the environment.

Refusals raise :class:`FetchRefused` with a short reason code; nothing here writes.
"""

import concurrent.futures
import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from django.conf import settings

ALLOWED_PORTS = {"http": 80, "https": 443}
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
URL_MAX_LENGTH = 2048
_CHUNK = 16 * 1024
# Characters a request target keeps as they are (RFC 3986's reserved and unreserved, and %).
_PATH_SAFE = "/?#[]@!$&'()*+,;=:%~-._"
# getaddrinfo has no timeout of its own: it runs here, bounded by the fetch's deadline.
_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="link-dns")


class FetchRefused(Exception):
    """No preview for this URL; ``reason`` is a short code kept on the cache row."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    content_type: str
    charset: str | None
    body: bytes


def normalize_url(url: str) -> str:
    """``url`` as the cache knows it: scheme and host lower-cased, no fragment. Raises
    FetchRefused("invalid_url") for anything but an absolute http(s) URL."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise FetchRefused("invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise FetchRefused("invalid_url") from error
    if parts.scheme.lower() not in ALLOWED_PORTS or not parts.hostname:
        raise FetchRefused("invalid_url")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("invalid_url")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64, well-known prefix
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(text: str) -> bool:
    """Whether ``text`` is an address a preview may connect to: global unicast only."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _allowed_for_tests(ip: str, port: int) -> bool:
    return f"{ip}:{port}" in settings.LINK_PREVIEW_ALLOWED_ADDRESSES


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise FetchRefused("timeout")
        return left


def _resolve(host: str, port: int, deadline: _Deadline) -> str:
    """The one address to connect to, after checking every address ``host`` has."""
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=deadline.left())
    except concurrent.futures.TimeoutError as error:
        raise FetchRefused("timeout") from error
    except (OSError, UnicodeError) as error:
        raise FetchRefused("dns_failed") from error
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchRefused("dns_failed")
    for address in addresses:
        if not (is_public_address(address) or _allowed_for_tests(address, port)):
            raise FetchRefused("blocked_address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` (checked) while speaking to ``host`` (the Host header)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # The certificate is verified for the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a preview may request, or FetchRefused."""
    url = normalize_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or ALLOWED_PORTS[scheme]
    host = parts.hostname
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise FetchRefused("invalid_url") from error
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # Addresses people paste keep their letters ("/wiki/재즈"); HTTP wants them
    # percent-encoded (what is encoded already stays as it is).
    return scheme, host, port, quote(path, safe=_PATH_SAFE)


def _port_allowed(port: int, address: str | None = None) -> bool:
    """80 and 443 only (for either scheme); the tests' server is named with its port."""
    if port in ALLOWED_PORTS.values():
        return True
    if address is None:  # before resolving: could any allowed test address match?
        return any(entry.endswith(f":{port}") for entry in settings.LINK_PREVIEW_ALLOWED_ADDRESSES)
    return _allowed_for_tests(address, port)


def _read_body(response, *, max_bytes: int, deadline: _Deadline) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchRefused("too_large")
    chunks, size = [], 0
    while True:
        deadline.left()
        chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused("too_large")
        chunks.append(chunk)


def fetch(url: str, *, accept: tuple[str, ...], max_bytes: int) -> Fetched:
    """GET ``url`` under the rules above; ``accept``: the content types wanted."""
    deadline = _Deadline(settings.LINK_PREVIEW_TIMEOUT_SECONDS)
    for _hop in range(settings.LINK_PREVIEW_MAX_REDIRECTS + 1):
        scheme, host, port, path = _target(url)
        if not _port_allowed(port):
            raise FetchRefused("blocked_port")
        address = _resolve(host, port, deadline)
        if not _port_allowed(port, address):
            raise FetchRefused("blocked_port")
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(host, port, address=address, timeout=deadline.left())
        # One deadline for the whole exchange: a server that sends a byte now and then
        # is cut off when it passes, whatever the per-read timeout.
        watchdog = threading.Timer(deadline.left(), _abort, args=(connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(
                "GET",
                path,
                headers={
                    "User-Agent": settings.LINK_PREVIEW_USER_AGENT,
                    "Accept": ", ".join(accept) + ";q=1.0, */*;q=0.1",
                    "Accept-Encoding": "identity",
                    "Accept-Language": "en, ko;q=0.9, ja;q=0.8",
                },
            )
            response = connection.getresponse()
            if response.status in REDIRECT_STATUSES:
                location = response.getheader("Location")
                if not location:
                    raise FetchRefused("bad_redirect")
                url = urljoin(url, location.strip())
                continue
            if response.status != 200:
                raise FetchRefused(f"http_{response.status}")
            content_type, charset = _content_type(response.getheader("Content-Type", ""))
            if content_type not in accept:
                raise FetchRefused("unsupported_type")
            body = _read_body(response, max_bytes=max_bytes, deadline=deadline)
            return Fetched(url=url, content_type=content_type, charset=charset, body=body)
        except FetchRefused:
            raise
        except TimeoutError as error:
            raise FetchRefused("timeout") from error
        except (OSError, http.client.HTTPException, ValueError) as error:
            if time.monotonic() >= deadline.end:
                raise FetchRefused("timeout") from error
            raise FetchRefused("connection_failed") from error
        finally:
            watchdog.cancel()
            connection.close()
    raise FetchRefused("too_many_redirects")


def _abort(connection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def _content_type(header: str) -> tuple[str, str | None]:
    main, _sep, params = header.partition(";")
    match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.IGNORECASE)
    return main.strip().lower(), match.group(1) if match else None


# --- the page's metadata ---------------------------------------------------------------


@dataclass(frozen=True)
class PageMeta:
    title: str
    description: str
    site_name: str
    image_url: str


TITLE_MAX = 300
DESCRIPTION_MAX = 500
SITE_NAME_MAX = 100


class _MetaParser(HTMLParser):
    """Collects <meta> properties and the <title> of the document's head."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self.charset: str | None = None
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if tag == "body":
            self.done = True
            return
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            values = {name.lower(): (value or "") for name, value in attrs}
            if "charset" in values and not self.charset:
                self.charset = values["charset"].strip()
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values and key not in self.meta:
                self.meta[key] = values["content"]

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data):
        if self._in_title and not self.done and len(self.title) < TITLE_MAX * 2:
            self.title += data


def _clean(text: str, limit: int) -> str:
    # One line of plain text: whitespace collapsed, control characters gone.
    text = "".join(c for c in text if c.isprintable() or c.isspace())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _decode(fetched: Fetched) -> str:
    charset = fetched.charset
    if not charset:
        head = fetched.body[:2048].decode("ascii", errors="replace")
        match = re.search(r"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", head, re.IGNORECASE)
        charset = match.group(1) if match else "utf-8"
    try:
        return fetched.body.decode(charset, errors="replace")
    except LookupError:
        return fetched.body.decode("utf-8", errors="replace")


def parse_page(fetched: Fetched) -> PageMeta:
    """Open Graph first, then Twitter cards, then <title> and the description."""
    parser = _MetaParser()
    # Untrusted markup: whatever was read before an error counts.
    with contextlib.suppress(Exception):
        parser.feed(_decode(fetched))
        parser.close()
    meta = parser.meta

    def first(*keys: str) -> str:
        return next((meta[key] for key in keys if meta.get(key, "").strip()), "")

    image = first("og:image:secure_url", "og:image", "og:image:url", "twitter:image")
    image_url = ""
    if image:
        image_url = urljoin(fetched.url, image.strip())
        try:
            image_url = normalize_url(image_url)
        except FetchRefused:
            image_url = ""
    return PageMeta(
        title=_clean(first("og:title", "twitter:title") or parser.title, TITLE_MAX),
        description=_clean(
            first("og:description", "twitter:description", "description"), DESCRIPTION_MAX
        ),
        site_name=_clean(first("og:site_name", "application-name"), SITE_NAME_MAX),
        image_url=image_url,
    )
