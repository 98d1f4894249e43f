"""The emoji a reaction may use, and the short list the picker offers.

Validation uses the Unicode emoji data shipped by the pinned ``emoji`` package
(``emoji-test.txt`` of the Unicode release it names), so every *fully-qualified*
emoji is accepted: single code points, keycaps, flags, skin-tone variants
(``👍🏽``) and ZWJ sequences (``👨‍👩‍👧‍👦``, ``🧑🏽‍🚀``, ``🏳️‍🌈``). Nothing is downloaded.

Input is normalised before it is stored, so the same emoji typed with or without
the emoji presentation selector (U+FE0F: ``❤`` / ``❤️``) is one reaction, not two.
Components on their own (a bare skin-tone swatch ``🏻``, a hair component) and any
string that is not exactly one emoji (text, two emoji, an emoji plus a letter) are
refused.
"""

from functools import cache

import emoji as emoji_data

# A stored emoji is at most 10 code points today; the column leaves headroom.
EMOJI_MAX_LENGTH = 32
_PRESENTATION_SELECTOR = "\ufe0f"

# The picker's quick row and its few categories: common reactions first, as on
# KakaoTalk and Discord. Anything else valid can still be sent through the API.
PICKER_EMOJI: dict[str, tuple[str, ...]] = {
    "quick": ("👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉"),
    "smileys": (
        "😀",
        "😃",
        "😄",
        "😁",
        "😆",
        "😅",
        "🤣",
        "😊",
        "😇",
        "🙂",
        "😉",
        "😍",
        "🥰",
        "😘",
        "😋",
        "😛",
        "😜",
        "🤪",
        "🤗",
        "🤭",
        "🤔",
        "🤨",
        "😐",
        "😑",
        "😶",
        "🙄",
        "😏",
        "😬",
        "😌",
        "😴",
        "😷",
        "🤒",
        "🥵",
        "🥶",
        "🥴",
        "🤯",
        "🤠",
        "🥳",
        "😎",
        "🤓",
        "😕",
        "😟",
        "😯",
        "😲",
        "😳",
        "🥺",
        "😭",
        "😱",
        "😖",
        "😣",
        "😞",
        "😓",
        "😩",
        "😫",
        "🥱",
        "😤",
        "😡",
        "😠",
        "🤬",
        "😈",
        "💀",
        "🤡",
        "👻",
        "👽",
        "🤖",
        "💩",
        "🙈",
        "🙉",
        "🙊",
    ),
    "gestures": (
        "👋",
        "🤚",
        "✋",
        "🖖",
        "👌",
        "🤌",
        "🤏",
        "✌️",
        "🤞",
        "🤟",
        "🤘",
        "🤙",
        "👈",
        "👉",
        "👆",
        "👇",
        "☝️",
        "👎",
        "✊",
        "👊",
        "🤛",
        "🤜",
        "👏",
        "🙌",
        "👐",
        "🤲",
        "🤝",
        "💪",
        "🫶",
        "🫡",
        "🫠",
        "🙇",
        "🤷",
        "🤦",
        "💁",
        "🙆",
    ),
    "hearts": (
        "🧡",
        "💛",
        "💚",
        "💙",
        "💜",
        "🖤",
        "🤍",
        "🤎",
        "💔",
        "❣️",
        "💕",
        "💞",
        "💓",
        "💗",
        "💖",
        "💘",
        "💝",
        "💯",
        "💢",
        "💥",
        "💫",
        "💦",
        "💤",
        "✨",
    ),
    "things": (
        "⭐",
        "🌟",
        "🌈",
        "☀️",
        "🌙",
        "⚡",
        "❄️",
        "🌸",
        "🌹",
        "🍀",
        "🎂",
        "🍰",
        "🍕",
        "🍔",
        "🍜",
        "🍣",
        "🍺",
        "🍻",
        "🥂",
        "☕",
        "🍵",
        "🎁",
        "🎈",
        "🏆",
        "🥇",
        "⚽",
        "🏀",
        "🎮",
        "🎵",
        "🎶",
        "🎤",
        "🎧",
        "🎸",
        "📷",
        "📚",
        "💡",
        "💰",
        "💎",
        "🚀",
        "✈️",
        "🏠",
        "⏰",
        "✅",
        "❌",
        "❓",
        "❗",
        "⚠️",
        "🆗",
        "🐶",
        "🐱",
        "🐰",
        "🐻",
        "🐼",
        "🐧",
        "🐥",
        "🦄",
        "🐝",
        "🐢",
        "🐳",
        "🦋",
    ),
}
QUICK_REACTIONS = PICKER_EMOJI["quick"]


@cache
def _fully_qualified_by_bare_form() -> dict[str, str]:
    """Each fully-qualified emoji, keyed by its form without presentation selectors."""
    fully_qualified = emoji_data.STATUS["fully_qualified"]
    return {
        value.replace(_PRESENTATION_SELECTOR, ""): value
        for value, data in emoji_data.EMOJI_DATA.items()
        if data["status"] == fully_qualified
    }


def normalise_emoji(raw: object) -> str | None:
    """The canonical (fully-qualified) form of ``raw`` if it is exactly one emoji, else None."""
    if not isinstance(raw, str):
        return None
    candidate = raw.strip()
    if not candidate or len(candidate) > EMOJI_MAX_LENGTH:
        return None
    return _fully_qualified_by_bare_form().get(candidate.replace(_PRESENTATION_SELECTOR, ""))


def is_valid_emoji(raw: object) -> bool:
    return normalise_emoji(raw) is not None
