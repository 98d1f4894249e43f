"""The catalogs are complete: every msgid translated (not fuzzy) in Korean and Japanese,
placeholders kept, and ``makemessages`` finds no string the committed catalogs lack."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from tests.i18n_support import LOCALE_DIR, TRANSLATED_LANGUAGES

DOMAINS = ["django", "djangojs"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|%%|\{\w*\}")
# What makemessages must not scan (dependencies, tests, generated and uploaded files).
NO_OBSOLETE = ["--no-obsolete"]
IGNORED = [".venv", "tests", "bench", "staticfiles", "media", "e2e-screenshots", "node_modules"]


def catalogs():
    for language in TRANSLATED_LANGUAGES:
        for domain in DOMAINS:
            path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
            if path.exists():
                yield pytest.param(path, id=f"{language}-{domain}")


def test_both_languages_have_the_django_catalog():
    for language in TRANSLATED_LANGUAGES:
        assert (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").exists()


@pytest.mark.parametrize("path", list(catalogs()))
def test_catalog_is_complete(path: Path):
    po = polib.pofile(str(path))
    assert po.metadata["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert po.metadata["Content-Type"].lower() == "text/plain; charset=utf-8"
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    assert not untranslated, f"untranslated in {path}: {untranslated}"
    assert not fuzzy, f"fuzzy in {path}: {fuzzy}"


@pytest.mark.parametrize("path", list(catalogs()))
def test_translations_keep_every_placeholder(path: Path):
    broken = []
    for entry in polib.pofile(str(path)).translated_entries():
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        texts = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for text in texts:
            if sorted(PLACEHOLDER.findall(text)) != wanted:
                broken.append((entry.msgid, text))
    assert not broken


def _source_copy(destination: Path) -> None:
    """The repository's sources only: apps (packages), templates, static, locale, manage.py."""
    base = Path(settings.BASE_DIR)
    for child in base.iterdir():
        if child.name in IGNORED or child.name.startswith("."):
            continue
        is_app = child.is_dir() and (child / "__init__.py").exists()
        if is_app or child.name in {"templates", "static", "locale", "manage.py"}:
            if child.is_dir():
                shutil.copytree(
                    child, destination / child.name, ignore=shutil.ignore_patterns("*.mo")
                )
            else:
                shutil.copy2(child, destination / child.name)


def _msgids(path: Path) -> set[tuple[str, str, str]]:
    if not path.exists():
        return set()
    return {
        (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")
        for entry in polib.pofile(str(path))
        if not entry.obsolete and entry.msgid
    }


@pytest.mark.slow
def test_makemessages_finds_no_new_strings(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    _source_copy(copy)
    ignore = [arg for name in IGNORED for arg in ("--ignore", name)]
    env = {**os.environ, "DEBUG": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    for domain in DOMAINS:
        command = [sys.executable, "manage.py", "makemessages", "-l", "ko", "-d", domain]
        result = subprocess.run(
            [*command, *NO_OBSOLETE, *ignore],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        committed = _msgids(LOCALE_DIR / "ko" / "LC_MESSAGES" / f"{domain}.po")
        found = _msgids(copy / "locale" / "ko" / "LC_MESSAGES" / f"{domain}.po")
        new = sorted(found - committed)
        assert not new, f"{domain}: run makemessages and translate: {new}"


def test_derived_model_and_field_names_are_catalogued():
    """Model and field names without a verbose_name are translated at start-up; each
    must be listed in config/model_names.py so makemessages puts it in the catalogs."""
    from config.apps import wrapped_names
    from config.model_names import DERIVED_NAMES

    assert wrapped_names, "MoimConfig.ready did not run"
    missing = sorted(wrapped_names - set(DERIVED_NAMES))
    assert not missing, f"add to config/model_names.py: {missing}"


def test_admin_labels_are_lazy_translations():
    from django.utils import translation

    from community.rooms.models import Room

    field = Room._meta.get_field("member_count")
    with translation.override("ko"):
        assert str(field.verbose_name) == "멤버 수"
        assert str(Room._meta.verbose_name_plural) == "방"
