"""Every file path and Python name the docs mention exists, so a doc cannot keep naming
a module after it moved.

Checked in README.md, docs/*.md and the apps' READMEs:

- paths with a slash (`community/chat/services.py`, `tests/faults/`, `config/postgresql`)
  under the repository's top-level directories, or ending in `.py` (from the repository
  root, or from the doc's own directory, as commerce/README.md writes
  `services/tips.py`); `path.py:name` also needs `name` defined in that file;
- bare module file names (`screening.py`): some file of that name exists;
- dotted names under the apps (`community.chat.services.check_send_message`,
  `config.asgi:application`): the module imports and defines the name (a re-export
  counts only when the module lists it in `__all__`), or it is a model
  (`community.MemberBlock`), a permission (`commerce.reverse_transfer`), a system check
  id (`commerce.W001`) or a Celery task name (which stay as they were when the tasks'
  modules moved, so queued tasks still run).
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from django.apps import apps

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
APPS = ("community", "profiles", "commerce", "config", "bench", "deploy")
TOP_LEVEL = (*APPS, "tests", "docs", "static", "templates", "locale", ".ci")
EXTENSIONS = "py|md|js|css|html|json|txt|ini|toml|cfg|po|sh|yml|yaml|sql"
IGNORED_DIRS = {".venv", ".git", "node_modules", "e2e-screenshots"}

# `a/b/c.py`, `a/b/`, `a/b/c.py:function`: not inside a URL (`/api/v1/...`) or a longer word.
PATH = re.compile(r"(?<![\w./:<>{}-])((?:\.?[\w-]+/)+(?:[\w.*<>{},-]+)?)(?::(\w+))?")
BARE_MODULE = re.compile(r"(?<![\w./-])(\w+\.py)\b(?!/)")
DOTTED = re.compile(
    rf"(?<![\w./-])((?:{'|'.join(APPS)})(?:\.\w+)+)(?::(\w+))?(?![\w/-]|\.\w)",
)
CHECK_ID = re.compile(r"^\w+\.[CEWI]\d{3}$")


def documents() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    docs += sorted(path for app in APPS for path in (ROOT / app).glob("README.md"))
    return docs


def _defines(path: Path, name: str) -> bool:
    return bool(
        re.search(
            rf"^\s*(?:async\s+def|def|class)\s+{name}\b|^{name}\s*[:=]", path.read_text(), re.M
        )
    )


def path_problem(doc: Path, path: str, name: str | None) -> str | None:
    if any(char in path for char in "*<>{}"):
        return None  # a pattern, not a path
    bare = path.rstrip("/")
    is_module = bare.endswith(".py")
    if not is_module and bare.split("/")[0] not in TOP_LEVEL:
        return None  # a URL path, a MIME type, a branch name...
    for base in (ROOT, doc.parent):
        target = base / bare
        if target.exists():
            if name and target.is_file() and not _defines(target, name):
                return f"{path}: defines no `{name}`"
            return None
    return f"{path}: no such file or directory"


def _all_files_named() -> set[str]:
    names = set()
    for path in ROOT.rglob("*.py"):
        if not IGNORED_DIRS & set(path.relative_to(ROOT).parts):
            names.add(path.name)
    return names


def _is_model_permission_check_or_task(dotted: str) -> bool:
    if CHECK_ID.match(dotted):
        return True
    celery_app.loader.import_default_modules()  # the autodiscovered tasks modules
    if dotted in celery_app.tasks:
        return True
    parts = dotted.split(".")
    if len(parts) != 2:
        return False
    app_label, name = parts
    try:
        apps.get_model(app_label, name)
        return True
    except (LookupError, ValueError):
        pass
    return name in _permission_codenames(app_label)


def _permission_codenames(app_label: str) -> set[str]:
    """The app's model permissions as its models declare them (the defaults and
    ``Meta.permissions``), read from the code: the table may have been flushed."""
    try:
        app_config = apps.get_app_config(app_label)
    except LookupError:
        return set()
    codenames = set()
    for model in app_config.get_models():
        opts = model._meta
        codenames.update(f"{action}_{opts.model_name}" for action in opts.default_permissions)
        codenames.update(codename for codename, _name in opts.permissions)
    return codenames


def dotted_problem(dotted: str, attribute: str | None) -> str | None:
    parts = dotted.split(".")
    if attribute:
        parts.append(attribute)
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # this prefix is not a module; try a shorter one
            raise
        obj, owner = module, module
        for part in parts[split:]:
            if not hasattr(obj, part):
                if _is_model_permission_check_or_task(dotted):
                    return None
                return f"{dotted}: {'.'.join(parts[:split])} has no `{part}`"
            owner, obj = obj, getattr(obj, part)
        defined_in = getattr(obj, "__module__", None)
        if (
            inspect.ismodule(owner)
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and defined_in != owner.__name__
            and obj.__name__ not in getattr(owner, "__all__", ())
        ):
            return f"{dotted}: defined in {defined_in}, only imported into {owner.__name__}"
        return None
    return None if _is_model_permission_check_or_task(dotted) else f"{dotted}: no such module"


def references(text: str):
    """(kind, value, attribute) for every path and dotted name in ``text``."""
    # A fenced block's shell lines are commands, checked like the prose.
    for match in PATH.finditer(text):
        yield "path", match.group(1).rstrip(".,"), match.group(2)
    for match in BARE_MODULE.finditer(text):
        yield "module file", match.group(1), None
    for match in DOTTED.finditer(text):
        if not re.search(rf"\.(?:{EXTENSIONS})$", match.group(1)):  # docs/profiles.md
            yield "name", match.group(1), match.group(2)


def problems_in(doc: Path, text: str, module_files: set[str]) -> list[str]:
    found = []
    for kind, value, attribute in references(text):
        if kind == "path":
            problem = path_problem(doc, value, attribute)
        elif kind == "module file":
            problem = None if value in module_files else f"{value}: no file of that name"
        else:
            problem = dotted_problem(value, attribute)
        if problem:
            found.append(f"{doc.relative_to(ROOT)}: {problem}")
    return found


def test_the_parser_finds_paths_and_names():
    text = (
        "`community/chat/services.py: check_send_message`, (config/db_routing.py) "
        "`community/chat/consumers.py:_handle_frame` `POST /api/v1/rooms/<id>/` "
        "`community.chat.services.check_send_message(membership=...)` `config.asgi:application` "
        "docs/profiles.md `screening.py` `image/jpeg` `message.created` `moim.E001`"
    )
    found = {(kind, value, attribute) for kind, value, attribute in references(text)}
    assert found == {
        ("path", "community/chat/services.py", None),
        ("path", "config/db_routing.py", None),
        ("path", "community/chat/consumers.py", "_handle_frame"),
        ("path", "docs/profiles.md", None),
        ("path", "image/jpeg", None),
        ("module file", "screening.py", None),
        ("name", "community.chat.services.check_send_message", None),
        ("name", "config.asgi", "application"),
    }


@pytest.mark.django_db
def test_the_checks_catch_moved_and_missing_names():
    module_files = _all_files_named()
    doc = ROOT / "docs" / "realtime.md"
    stale = (
        "`community/services/messages.py`, `community/consumers.py:_handle_frame`, "
        "`moderation_filters.py`, `community.services.messages.broadcast_member_removed`, "
        "`community.chat.services.no_such_function`, `community.models.MediaAsset`, "
        "`community/chat/consumers.py:no_such_function`"
    )
    assert len(problems_in(doc, stale, module_files)) == 7
    fine = (
        "`community/chat/services.py`, `community/chat/consumers.py:_handle_frame`, "
        "`screening.py`, `community.rooms.services.broadcast_member_removed`, "
        "`community.media.models.MediaAsset`, `community.MemberBlock`, "
        "`commerce.reverse_transfer`, `commerce.W001`, `community.tasks.sweep_media_assets`, "
        "`commerce.services.send_tip`, `config.asgi:application`, `tests/faults/`"
    )
    assert problems_in(doc, fine, module_files) == []


@pytest.mark.django_db
def test_every_path_and_name_in_the_docs_exists():
    module_files = _all_files_named()
    found = []
    for doc in documents():
        found += problems_in(doc, doc.read_text(), module_files)
    assert not found, "the docs name paths or modules that do not exist:\n" + "\n".join(found)
