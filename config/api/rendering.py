"""JSON responses with parts encoded ahead of time, byte for byte what DRF would write.

A history page is mostly the shared part of its messages, the same for every reader and
cached (``community.chat.selectors.history_page``): it is cached as JSON text and spliced
into the response instead of being built as dicts and encoded again on every request
(docs/performance.md, "Message history API, third pass"). ``encode_json`` encodes exactly
as :class:`rest_framework.renderers.JSONRenderer` does (its encoder class, ``ensure_ascii``,
``allow_nan`` and separators); :class:`PreEncodedJSONRenderer` writes a response whose
values may be :class:`EncodedList`, and the ``\\u2028``/``\\u2029`` escapes DRF adds are
applied once to the whole text, as DRF does.
"""

import json

from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_SEPARATORS = (
    renderers.SHORT_SEPARATORS if renderers.JSONRenderer.compact else renderers.LONG_SEPARATORS
)
ITEM_SEPARATOR, KEY_SEPARATOR = _SEPARATORS

_ENCODER = renderers.JSONRenderer.encoder_class(
    ensure_ascii=renderers.JSONRenderer.ensure_ascii,
    allow_nan=not renderers.JSONRenderer.strict,
    separators=_SEPARATORS,
)
if not issubclass(renderers.JSONRenderer.encoder_class, JSONEncoder):  # pragma: no cover
    raise RuntimeError("the JSON renderer's encoder is not DRF's: check encode_json")


def encode_json(value) -> str:
    """``value`` as DRF's JSON renderer encodes it (before its ``\\u2028`` escapes): the
    same encoder and options, with the commonest scalars spelled out directly."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is list and not value:
        return "[]"
    return _ENCODER.encode(value)


def escape_line_separators(text: str) -> str:
    """DRF's last step: ``\\u2028`` and ``\\u2029`` escaped, so the JSON is also JavaScript."""
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class EncodedList:
    """A JSON array already encoded (``text``, as ``encode_json`` writes it): spliced as is
    by :class:`PreEncodedJSONRenderer`. Iterating it decodes the items, so any other
    renderer (the browsable API, an indented response) writes the same array."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __iter__(self):
        return iter(json.loads(self.text))


class PreEncodedJSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, which writes the :class:`EncodedList` values of a response
    dict as they are: the same bytes as DRF's for the same data, without encoding the
    list again. Anything else (no such value, an indented response) is DRF's own path."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if (
            type(data) is dict
            and any(type(value) is EncodedList for value in data.values())
            and all(type(key) is str for key in data)
        ):
            indent = self.get_indent(accepted_media_type, renderer_context or {})
            if indent is None:
                members = [
                    encode_json(key)
                    + KEY_SEPARATOR
                    + (value.text if type(value) is EncodedList else encode_json(value))
                    for key, value in data.items()
                ]
                text = "{" + ITEM_SEPARATOR.join(members) + "}"
                return escape_line_separators(text).encode()
        return super().render(data, accepted_media_type, renderer_context)
