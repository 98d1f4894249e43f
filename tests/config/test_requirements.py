"""The dependency files stay what `make requirements` and `make install` expect."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> list[tuple[str, str]]:
    found = []
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append((normalize(match.group(1)), match.group(3)))
    return found


def locked_entries() -> dict[str, tuple[str, list[str]]]:
    """requirements.txt: name → (version, hashes)."""
    entries, current = {}, None
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        stripped = line.strip()
        match = PIN.match(stripped)
        if match:
            current = normalize(match.group(1))
            entries[current] = (match.group(3), [])
        elif stripped.startswith("--hash=") and current:
            entries[current][1].append(stripped.split()[0])
    return entries


def test_the_lock_matches_requirements_in():
    """Fails when requirements.in was edited and `make requirements` not run."""
    locked = locked_entries()
    stale = [
        f"{name}=={version} (lock: {locked[name][0] if name in locked else 'missing'})"
        for name, version in pins(ROOT / "requirements.in")
        if locked.get(name, (None,))[0] != version
    ]
    assert not stale, f"requirements.txt is stale against requirements.in: {stale}"


def test_every_locked_package_has_a_hash():
    locked = locked_entries()
    assert len(locked) > len(pins(ROOT / "requirements.in"))  # transitive ones too
    unhashed = [name for name, (_, hashes) in locked.items() if not hashes]
    assert not unhashed, f"requirements.txt lines without --hash: {unhashed}"
    # A plain `name==version` line (say, added by hand) would go unhashed as well.
    plain = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if PIN.match(line.strip()) and not line.rstrip().endswith("\\")
    ]
    assert not plain, f"pins without hashes in requirements.txt: {plain}"


def test_kombu_redis_transport_dependencies_are_locked():
    """kombu's Redis transport imports `packaging`; the runtime install must bring it."""
    locked = locked_entries()
    assert {"celery", "kombu", "redis", "packaging"} <= set(locked)


def test_dev_requirements_pin_each_tool_once_and_leave_runtime_to_the_lock():
    text = (ROOT / "requirements-dev.txt").read_text()
    names = [name for name, _ in pins(ROOT / "requirements-dev.txt")]
    assert len(names) == len(set(names)), (
        f"pinned twice: {sorted(n for n in names if names.count(n) > 1)}"
    )
    # Mixing the hashed lock into this pip call would demand hashes for every tool here.
    assert not re.search(r"^\s*-(r|c)\s", text, re.MULTILINE)
    assert not set(names) & set(locked_entries()), "runtime packages belong in requirements.in"
