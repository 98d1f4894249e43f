"""Translation engines: one interface, chosen by the environment (``TRANSLATION_ENGINE``).

An engine renders text from one language into another (``translate``) and names the
languages it knows (``languages``). ``libretranslate`` speaks the LibreTranslate HTTP
API (``LIBRETRANSLATE_URL``, self-hostable; ``LIBRETRANSLATE_API_KEY`` when the server
wants one); another engine is a class path in ``TRANSLATION_ENGINE`` whose constructor
takes no argument and reads its own settings. Empty: translation is off.

User text goes to the engine as plain text (``format=text``) and comes back as plain
text: it is never read as HTML.
"""

import json
import logging
from typing import Protocol

import urllib3
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class EngineError(Exception):
    """The engine could not answer (down, slow, refused, or answered nonsense)."""


class TranslationEngine(Protocol):
    name: str

    def translate(self, text: str, *, source: str, target: str) -> str:
        """``text`` rendered in ``target``; ``source`` is a language code or "auto"."""

    def languages(self) -> list[str]:
        """The language codes the engine translates into."""


class LibreTranslateEngine:
    """The LibreTranslate API: ``POST /translate``, ``GET /languages``."""

    name = "libretranslate"

    def __init__(self, *, url: str | None = None, api_key: str | None = None):
        self.url = (url or settings.LIBRETRANSLATE_URL).rstrip("/")
        self.api_key = settings.LIBRETRANSLATE_API_KEY if api_key is None else api_key
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(
                connect=settings.TRANSLATION_CONNECT_TIMEOUT_SECONDS,
                read=settings.TRANSLATION_READ_TIMEOUT_SECONDS,
            ),
            # A reader waits for the answer: no retries behind their back.
            retries=False,
        )

    def _call(self, method: str, path: str, body: dict | None = None):
        try:
            response = self.pool.request(
                method,
                f"{self.url}{path}",
                body=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except urllib3.exceptions.HTTPError as error:
            raise EngineError(f"{self.name}: {type(error).__name__}") from error
        if response.status != 200:
            raise EngineError(f"{self.name}: HTTP {response.status}")
        try:
            return json.loads(response.data)
        except ValueError as error:
            raise EngineError(f"{self.name}: not JSON") from error

    def translate(self, text: str, *, source: str, target: str) -> str:
        body = {"q": text, "source": source, "target": target, "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        answer = self._call("POST", "/translate", body)
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if not isinstance(translated, str):
            raise EngineError(f"{self.name}: no translatedText")
        return translated

    def languages(self) -> list[str]:
        answer = self._call("GET", "/languages")
        if not isinstance(answer, list):
            raise EngineError(f"{self.name}: languages is not a list")
        return sorted(
            {item["code"] for item in answer if isinstance(item, dict) and item.get("code")}
        )


ENGINES = {"libretranslate": LibreTranslateEngine}


def configured_engine() -> TranslationEngine | None:
    """The engine ``TRANSLATION_ENGINE`` names, or None when translation is off."""
    name = settings.TRANSLATION_ENGINE
    if not name:
        return None
    engine_class = ENGINES.get(name) or import_string(name)
    return engine_class()
