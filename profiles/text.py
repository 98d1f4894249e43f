"""Unicode normalisation shared by handles, hashtags and search.

``fold`` is for matching text (search keys): compatibility forms, width and case collapse,
and invisible characters go. ``lookalike_key`` is for identifiers people must not be able
to impersonate (handles, hashtags): on top of ``fold`` it maps Cyrillic and Greek letters
that render like Latin ones onto the Latin letter (a cheap subset of Unicode's
confusables skeleton, UTS #39), so ``аlice`` with a Cyrillic ``а`` collides with ``alice``.
"""

import re
import unicodedata

# Default-ignorable characters that change nothing visible (or only direction): zero-width
# space/joiners, bidi marks, embeddings and isolates, word joiner, BOM, soft hyphen,
# combining grapheme joiner, Mongolian vowel separator, variation selectors.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufe00-\ufe0f\ufeff]"
)

# Lower-case (case-folded) Cyrillic and Greek letters whose upper or lower case renders
# like a Latin letter, mapped to that letter.
_LATIN_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "с": "c",
        "ѕ": "s", "т": "t", "у": "y", "ү": "y", "ԝ": "w", "х": "x", "ԁ": "d", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
    }
)  # fmt: skip


def fold(text: str) -> str:
    """NFKC then case-fold, so look-alikes (full-width, compatibility forms, case) collide.

    Invisible characters (zero-width, bidi controls, variation selectors) are removed.
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return unicodedata.normalize("NFKC", text.casefold()).strip()


def lookalike_key(text: str) -> str:
    """``fold`` plus Latin look-alikes from Cyrillic and Greek: the uniqueness key of
    handles and hashtags."""
    return fold(text).translate(_LATIN_LOOKALIKES)
