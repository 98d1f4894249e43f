"""A local server speaking the LibreTranslate API (``POST /translate``, ``GET
/languages``, ``POST /detect``), for the translation tests: the real engine client
talks HTTP to it. It "translates" with a small phrasebook, else by tagging the text
with the target (``[ko] hello``), and records every request."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.parallel import free_port

LANGUAGES = ["en", "ko", "ja", "zh-Hans", "es", "fr", "de"]
PHRASEBOOK = {
    ("Where is the nearest station?", "ko"): "가장 가까운 역이 어디예요?",
    ("Where is the nearest station?", "ja"): "一番近い駅はどこですか？",
    ("오늘 공연 정말 좋았어요", "en"): "Today's show was really good",
    ("오늘 공연 정말 좋았어요", "ja"): "今日の公演は本当に良かったです",
}


class LibreTranslateServer:
    def __init__(self, *, api_key: str = ""):
        self.api_key = api_key
        self.requests: list[tuple[str, dict]] = []
        # Set to make /translate fail with this HTTP status.
        self.fail_with: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def _answer(self, status: int, body) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                server.requests.append((self.path, {}))
                if self.path == "/languages":
                    return self._answer(
                        200,
                        [{"code": code, "name": code, "targets": LANGUAGES} for code in LANGUAGES],
                    )
                self._answer(404, {"error": "Not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._answer(400, {"error": "Invalid JSON"})
                server.requests.append((self.path, body))
                if server.api_key and body.get("api_key") != server.api_key:
                    return self._answer(403, {"error": "Invalid API key"})
                if self.path == "/detect":
                    return self._answer(200, [{"confidence": 90.0, "language": "en"}])
                if self.path != "/translate":
                    return self._answer(404, {"error": "Not found"})
                if server.fail_with:
                    return self._answer(server.fail_with, {"error": "Engine trouble"})
                text, target = body.get("q", ""), body.get("target", "")
                if target not in LANGUAGES:
                    return self._answer(400, {"error": f"{target} is not supported"})
                translated = PHRASEBOOK.get((text, target), f"[{target}] {text}")
                self._answer(200, {"translatedText": translated})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def translations(self) -> list[dict]:
        return [body for path, body in self.requests if path == "/translate"]

    def start(self) -> "LibreTranslateServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
