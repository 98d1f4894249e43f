"""Every environment variable the settings read is listed in the README's table."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# env("X"), env.str("X", ...), env.bool(\n "X"), os.environ["X"], os.environ.get("X"),
# os.getenv("X"): the name is the first argument, possibly on the next line.
READS = re.compile(
    r"""(?:\benv(?:\.\w+)?\(|\bos\.environ(?:\.get|\.setdefault)?\(|\bos\.environ\[|\bos\.getenv\()"""
    r"""\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def variables_read_by_settings() -> set[str]:
    return set(READS.findall((ROOT / "config" / "settings.py").read_text()))


def variables_in_readme_table() -> set[str]:
    """Names in the first column of the README's "Environment variables" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Environment variables", 1)[1]
    names = set()
    for line in section.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            break
        if line.startswith("|"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def test_the_parser_sees_every_kind_of_read():
    found = variables_read_by_settings()
    # One-line, typed, and a call whose name sits on the next line.
    assert {"DEBUG", "DATABASE_URL", "COMMERCE_SANDBOX_WEBHOOK_SECRET", "EMAIL_URL"} <= found
    assert len(found) >= 70
    assert READS.findall(
        'x = os.environ.get("A_B")\ny = os.environ["C"]\nz = os.getenv(\n "D")'
    ) == [
        "A_B",
        "C",
        "D",
    ]


def test_every_variable_the_settings_read_is_documented():
    missing = sorted(variables_read_by_settings() - variables_in_readme_table())
    assert not missing, (
        "config/settings.py reads environment variables the README's table "
        f"(Running production-like → Environment variables) does not list: {missing}"
    )
