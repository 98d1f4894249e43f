"""How room nicknames are compared: the one key joins, nickname changes and ``@mentions`` use."""

from profiles.text import lookalike_key


def nickname_key(nickname: str) -> str:
    """NFKC, case-fold, invisible characters (zero-width joiners, bidi controls, variation
    selectors) dropped and Latin look-alikes from Cyrillic and Greek merged
    (``profiles.text.lookalike_key``): ``ＨＯＳＴ``, ``host``, ``h\u200bost`` and ``hоst``
    (Cyrillic о) are one name. Unique among a room's active members
    (``Membership.nickname_key``)."""
    return lookalike_key(nickname)[:200]
