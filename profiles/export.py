"""“Export everything about me”: a registry of sections, one per area.

Each app registers its own sections in its ``AppConfig.ready()``::

    from profiles.export import register_export_section
    register_export_section("ledger", ledger_statement_for_export)

A section function takes the user and returns JSON-serialisable data (datetimes are
fine: the export is rendered with Django's JSON encoder). Sections describe the user's
own data only; other people appear by their public handle or room nickname.
"""

from collections.abc import Callable
from typing import Any

from django.utils import timezone

EXPORT_FORMAT = "moim-export/1"

ExportSection = Callable[[Any], Any]
_sections: dict[str, ExportSection] = {}


def register_export_section(name: str, fn: ExportSection) -> None:
    """Add (or replace, so re-imports are harmless) the section ``name``."""
    _sections[name] = fn


def export_section_names() -> list[str]:
    return list(_sections)


def build_export(user) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "generated_at": timezone.now(),
        "sections": {name: fn(user) for name, fn in _sections.items()},
    }
