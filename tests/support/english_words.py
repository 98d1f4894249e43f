"""Finding English left on a Korean or Japanese page.

``english_words(page)`` reads a rendered page the way a person reads it (text, and the
attributes a screen reader or a tooltip shows) and returns the Latin-letter words in it,
leaving out what is not the interface's to translate:

- user content: anything inside an element marked ``dir="auto"`` (the project marks
  every element that shows user text that way, docs/i18n.md) or ``data-user-content``;
- scripts, styles, ``<code>``, and form values;
- anything inside an element marked ``translate="no"`` (HTML's own "leave this as it
  is": time zone identifiers, language codes);
- ``ALLOWED``: the brand, currency codes and symbols, and a few technical tokens;
  every language's name for itself (the language pickers show "Deutsch", "italiano");
  URLs, email addresses, time zone names and ``@handles``.
"""

import re
import unicodedata
from html.parser import HTMLParser

from django.conf.locale import LANG_INFO

ALLOWED = {
    "Moim",  # the brand
    "English",  # the language switcher names each language in itself
    "UTC",
    "GMT",
    "OK",
    "ID",
    "PIN",
    "URL",
    "QR",
    "API",
    "JSON",
    "CSV",
    "US",  # the dollar sign in Korean and Japanese: US$
    "px",
}
# A run of Latin letters, accented ones included ("Português", "Tiếng").
WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]+")
# Each language's own name for itself, word by word ("Bahasa Indonesia", "Tiếng Việt").
NATIVE_NAMES = {
    word
    for info in LANG_INFO.values()
    for word in WORD.findall(unicodedata.normalize("NFC", str(info.get("name_local", ""))))
}
# Three capital letters: currency codes (KRW, USD, JPY).
CURRENCY = re.compile(r"^[A-Z]{3}$")
# Time zone names (Asia/Seoul, America/Argentina/Buenos_Aires), URLs, emails, handles.
TECHNICAL = re.compile(
    r"\b[A-Z][A-Za-z_]+(?:/[A-Za-z_\-]+)+\b"
    r"|https?://\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b|@[\w.]+"
    r"|\b(?:[a-z]+_)+[a-z]+\b"  # field names and codes (e.g. in an API hint)
)
SHOWN_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
SKIPPED_ELEMENTS = {"script", "style", "code", "template", "noscript"}
VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.pieces: list[str] = []

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skipped = (
            self._skipping()
            or tag in SKIPPED_ELEMENTS
            or attributes.get("dir") == "auto"
            or attributes.get("translate") == "no"
            or "data-user-content" in attributes
        )
        if not skipped and not (tag == "meta" and attributes.get("name") != "description"):
            self.pieces += [
                attributes[name] or "" for name in SHOWN_ATTRIBUTES if name in attributes
            ]
            if tag == "meta" and attributes.get("content"):
                self.pieces.append(attributes["content"])
        if tag not in VOID_ELEMENTS:
            self.stack.append(skipped)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID_ELEMENTS and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipping():
            self.pieces.append(data)


def readable_text(page: str) -> str:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return " ".join(" ".join(reader.pieces).split())


def english_words(page: str, *, allowed: set[str] = frozenset()) -> list[str]:
    """The English (Latin-letter) words a reader sees on ``page``, sorted, once each."""
    text = TECHNICAL.sub(" ", unicodedata.normalize("NFC", readable_text(page)))
    return sorted(
        {
            word
            for word in WORD.findall(text)
            if word not in ALLOWED
            and word not in NATIVE_NAMES
            and word not in allowed
            and not CURRENCY.match(word)
        }
    )
