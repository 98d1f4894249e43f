"""Local servers that play the push providers, speaking their real protocols.

* ``WebPushService``: a push service (RFC 8030) over HTTPS. It hands out subscriptions
  whose keys it holds, checks each POST's VAPID authorization (RFC 8292) and decrypts the
  payload (RFC 8291, ``aes128gcm``) with the subscription's private key.
* ``FcmServer``: Google's OAuth 2 token endpoint (the service account's JWT grant,
  checked against the account's public key) and FCM's HTTP v1 ``messages:send``.
* ``ApnsServer``: APNs over HTTP/2 and TLS (Apple speaks nothing else): checks the
  provider token (ES256 JWT), the topic, and answers like Apple.

Every server runs in a thread on 127.0.0.1 with a port of its own; ``tls_files`` makes a
certificate for it that the test trusts (``REQUESTS_CA_BUNDLE``).
"""

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tls_files(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moim test push")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "push-cert.pem", directory / "push-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _server_context(cert: str, key: str, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


class _HttpServer:
    """A threaded HTTP(S) server whose handler calls ``self.handle(method, path, headers,
    body) -> (status, headers, body)``."""

    def __init__(self, *, cert: str | None = None, key: str | None = None):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                # Header names are case-insensitive: the handlers read them lowercased.
                received = {name.lower(): value for name, value in self.headers.items()}
                status, headers, payload = owner.handle(self.command, self.path, received, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _serve
            do_GET = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if cert:
            self.server.socket = _server_context(cert, key).wrap_socket(
                self.server.socket, server_side=True
            )
            self.scheme = "https"
        self.origin = f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method, path, headers, body):  # pragma: no cover - overridden
        raise NotImplementedError


# --- Web Push ----------------------------------------------------------------------------------


class WebSubscription:
    """A browser's subscription: the private key and auth secret stay here."""

    def __init__(self, service: "WebPushService", token: str):
        self.token = token
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = f"{service.origin}/push/{token}"
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh = b64url(public)

    def as_json(self) -> dict:
        """``PushSubscription.toJSON()``."""
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


class WebPushService(_HttpServer):
    def __init__(self, *, cert: str, key: str, vapid_public_key: str):
        super().__init__(cert=cert, key=key)
        self.vapid_public_key = vapid_public_key
        self.subscriptions: dict[str, WebSubscription] = {}
        # token -> the status to answer (404/410: gone; 429/500: try later).
        self.answers: dict[str, int] = {}
        self.received: list[dict] = []
        self.lock = threading.Lock()

    def subscribe(self) -> WebSubscription:
        subscription = WebSubscription(self, f"sub{len(self.subscriptions) + 1}")
        self.subscriptions[subscription.token] = subscription
        return subscription

    def messages_for(self, subscription: WebSubscription) -> list[dict]:
        return [m for m in self.received if m["token"] == subscription.token]

    def handle(self, method, path, headers, body):
        token = path.rsplit("/", 1)[-1]
        subscription = self.subscriptions.get(token)
        if method != "POST" or subscription is None:
            return 404, {}, b""
        if token in self.answers:
            return self.answers[token], {}, b""
        # RFC 8292: "vapid t=<JWT>, k=<the application server's public key>".
        auth = headers.get("authorization", "")
        if not auth.startswith("vapid "):
            return 401, {}, b"no vapid"
        params = dict(part.strip().split("=", 1) for part in auth[6:].split(","))
        if params.get("k") != self.vapid_public_key:
            return 403, {}, b"wrong key"
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(params["k"])
        )
        try:
            claims = jwt.decode(params["t"], public, algorithms=["ES256"], audience=self.origin)
        except jwt.InvalidTokenError as exc:
            return 403, {}, str(exc).encode()
        if headers.get("content-encoding") != "aes128gcm":
            return 415, {}, b""
        # RFC 8291: decrypt with the subscription's private key and auth secret.
        plain = http_ece.decrypt(
            body,
            private_key=subscription.private_key,
            auth_secret=subscription.auth,
            version="aes128gcm",
        )
        with self.lock:
            self.received.append(
                {
                    "token": token,
                    "payload": json.loads(plain),
                    "claims": claims,
                    "ttl": headers.get("ttl"),
                    "topic": headers.get("topic"),
                    "urgency": headers.get("urgency"),
                }
            )
        return 201, {"Location": f"{self.origin}/message/{len(self.received)}"}, b""


# --- FCM HTTP v1 -------------------------------------------------------------------------------


class FcmServer(_HttpServer):
    """The OAuth token endpoint and FCM's ``messages:send`` (plain HTTP on loopback)."""

    def __init__(self, *, project_id: str, directory: Path):
        super().__init__()
        self.project_id = project_id
        self.account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.access_token = "ya29.test-" + b64url(os.urandom(12))
        self.unregistered: set[str] = set()
        self.unavailable = False
        self.received: list[dict] = []
        self.token_requests = 0
        self.account_file = directory / "fcm-service-account.json"
        pem = self.account_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.account_file.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": project_id,
                    "private_key_id": "test-key",
                    "private_key": pem,
                    "client_email": f"push@{project_id}.iam.gserviceaccount.com",
                    "client_id": "1",
                    "token_uri": f"{self.origin}/token",
                }
            )
        )

    def handle(self, method, path, headers, body):
        if path == "/token":
            form = dict(part.split("=", 1) for part in body.decode().split("&"))
            try:
                jwt.decode(
                    form["assertion"],
                    self.account_key.public_key(),
                    algorithms=["RS256"],
                    # google-auth addresses the grant to Google's token endpoint, wherever
                    # the account's token_uri points.
                    audience="https://oauth2.googleapis.com/token",
                )
            except (KeyError, jwt.InvalidTokenError) as exc:
                return 400, {}, str(exc).encode()
            self.token_requests += 1
            answer = {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"}
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        if path != f"/v1/projects/{self.project_id}/messages:send":
            return 404, {}, b""
        if headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {}, b""
        if self.unavailable:
            return 503, {}, b""
        message = json.loads(body)["message"]
        if message["token"] in self.unregistered:
            error = {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "UNREGISTERED",
                        }
                    ],
                }
            }
            return 404, {"Content-Type": "application/json"}, json.dumps(error).encode()
        self.received.append(message)
        name = f"projects/{self.project_id}/messages/{len(self.received)}"
        return 200, {"Content-Type": "application/json"}, json.dumps({"name": name}).encode()


# --- APNs (HTTP/2) -----------------------------------------------------------------------------


class ApnsServer:
    """APNs' provider API over HTTP/2 with TLS, on the ``h2`` protocol library."""

    def __init__(self, *, cert: str, key: str, team_id: str, key_id: str, topic: str):
        import h2.config  # noqa: F401  (fail early when h2 is missing)

        self.auth_key = ec.generate_private_key(ec.SECP256R1())
        self.team_id, self.key_id, self.topic = team_id, key_id, topic
        self.unregistered: set[str] = set()
        self.received: list[dict] = []
        self.context = _server_context(cert, key, alpn=["h2"])
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.origin = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def key_pem(self) -> str:
        return self.auth_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()

    def _accept(self) -> None:
        while self.running:
            try:
                raw, _address = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        import h2.config
        import h2.connection
        import h2.events

        try:
            raw.settimeout(5)
            conn_sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        connection = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        connection.initiate_connection()
        conn_sock.sendall(connection.data_to_send())
        streams: dict[int, dict] = {}
        try:
            while True:
                data = conn_sock.recv(65535)
                if not data:
                    break
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = {"headers": dict(event.headers), "body": b""}
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id]["body"] += event.data
                        connection.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        self._respond(connection, event.stream_id, streams.pop(event.stream_id))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        conn_sock.sendall(connection.data_to_send())
                        return
                conn_sock.sendall(connection.data_to_send())
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn_sock.close()

    def _respond(self, connection, stream_id: int, request: dict) -> None:
        headers = request["headers"]
        status, body = self._answer(headers, request["body"])
        payload = json.dumps(body).encode() if body else b""
        connection.send_headers(
            stream_id,
            [(":status", str(status)), ("apns-id", f"id-{stream_id}")]
            + ([("content-type", "application/json")] if payload else []),
            end_stream=not payload,
        )
        if payload:
            connection.send_data(stream_id, payload, end_stream=True)

    def _answer(self, headers: dict, body: bytes) -> tuple[int, dict | None]:
        path = headers.get(":path", "")
        if headers.get(":method") != "POST" or not path.startswith("/3/device/"):
            return 404, {"reason": "BadPath"}
        token = path.rsplit("/", 1)[-1]
        bearer = headers.get("authorization", "")
        try:
            header = jwt.get_unverified_header(bearer.removeprefix("bearer "))
            claims = jwt.decode(
                bearer.removeprefix("bearer "), self.auth_key.public_key(), algorithms=["ES256"]
            )
        except jwt.InvalidTokenError:
            return 403, {"reason": "InvalidProviderToken"}
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return 403, {"reason": "InvalidProviderToken"}
        if time.time() - claims.get("iat", 0) > 3600:
            return 403, {"reason": "ExpiredProviderToken"}
        if headers.get("apns-topic") != self.topic:
            return 400, {"reason": "TopicDisallowed"}
        if token in self.unregistered:
            return 410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)}
        self.received.append(
            {"token": token, "headers": headers, "payload": json.loads(body or b"{}")}
        )
        return 200, None
