"""Which language a message is in: py3langid, whose model ships inside the package (no
download), choosing among ``TRANSLATION_DETECT_LANGUAGES`` (the rooms' content
languages: a short message is then told apart far more surely than among all 97).
Short or ambiguous text gets no answer rather than a wrong one."""

from functools import lru_cache

from django.conf import settings

# Below this probability the guess is not worth acting on (greetings, emoji, names).
MIN_PROBABILITY = 0.6
# Shorter than this (letters only), a guess is noise.
MIN_LETTERS = 4


@lru_cache(maxsize=1)
def _identifier():
    # Loaded on first use (about half a second), then shared by the process.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(settings.TRANSLATION_DETECT_LANGUAGES or None)
    return identifier


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None when unsure."""
    if sum(character.isalpha() for character in text) < MIN_LETTERS:
        return None
    language, probability = _identifier().classify(text)
    return language if probability >= MIN_PROBABILITY else None


def warm_up() -> None:
    """Load the model now (a process start), not in the first message's payload."""
    _identifier()
