"""Unicode normalisation shared by handles, hashtags and search."""

import unicodedata


def fold(text: str) -> str:
    """NFKC then case-fold, so look-alikes (full-width, compatibility forms, case) collide."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()
