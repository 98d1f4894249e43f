"""Helpers for tests that look at the translation catalogs."""

import fcntl
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.utils.translation import trans_real

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
TRANSLATED_LANGUAGES = ["ko", "ja"]


def compile_stale_catalogs() -> None:
    # Parallel workers (pytest-xdist) compile one at a time: msgfmt rewrites a .mo in
    # place, and a worker reading it half-written would load a broken catalog.
    with open(Path(tempfile.gettempdir()) / "moim-tests-compilemessages.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _compile_stale_catalogs()


def _compile_stale_catalogs() -> None:
    stale = [
        po
        for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        call_command(
            "compilemessages", locale=TRANSLATED_LANGUAGES, ignore_patterns=[".venv"], verbosity=0
        )
        # Catalogs already loaded in this process would hide the new .mo files.
        trans_real._translations = {}
        trans_real._default = None
