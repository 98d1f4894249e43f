"""The service layer's calling convention: every public service function is keyword-only.

Services are the writes (and the checks they share) that views, the API, sockets, tasks,
the admin and the other apps call. Named arguments keep a call readable where it is made
and let a service grow a parameter without breaking its callers. The modules are found
on disk, so a new package's services are held to the rule from its first commit.
"""

import importlib
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SERVICE_MODULE_GLOBS = (
    "community/*/services.py",
    "community/chat/screening.py",
    "profiles/services.py",
    "commerce/services/*.py",
)

POSITIONAL = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.VAR_POSITIONAL,
)

# Callables that live among the services but that Python or Django call positionally.
ALLOWED_POSITIONAL = {
    "community.chat.services.announce_media_change": (
        "a receiver of the media_changed signal: Django's Signal.send() passes `sender` "
        "positionally"
    ),
    "commerce.services.ledger.atomic_with_retry": (
        "a decorator: Python passes the decorated function positionally"
    ),
}


def service_module_names() -> list[str]:
    paths = {path for pattern in SERVICE_MODULE_GLOBS for path in ROOT.glob(pattern)}
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in paths
        if path.name != "__init__.py"
    )


def public_functions(module_name: str):
    module = importlib.import_module(module_name)
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ != module_name:
            continue  # imported from elsewhere; checked where it is defined
        yield f"{module_name}.{name}", obj


def positional_parameters(func) -> list[str]:
    # inspect.signature follows functools.wraps (__wrapped__) to the function a
    # decorator such as atomic_with_retry wraps.
    return [
        parameter.name
        for parameter in inspect.signature(func).parameters.values()
        if parameter.kind in POSITIONAL
    ]


def test_the_service_modules_are_found():
    names = service_module_names()
    assert {
        "community.chat.screening",
        "community.chat.services",
        "community.rooms.services",
        "community.notifications.services",
        "profiles.services",
        "commerce.services.tips",
        "commerce.services.ledger",
    } <= set(names)
    functions = [path for name in names for path, _func in public_functions(name)]
    assert len(functions) > 150


def test_the_check_sees_positional_parameters():
    def positional(a, *, b): ...

    def var_positional(*args): ...

    def keyword_only(*, a, b=1, **kwargs): ...

    assert positional_parameters(positional) == ["a"]
    assert positional_parameters(var_positional) == ["args"]
    assert positional_parameters(keyword_only) == []


def test_every_public_service_function_is_keyword_only():
    offenders = []
    for module_name in service_module_names():
        for path, func in public_functions(module_name):
            positional = positional_parameters(func)
            if positional and path not in ALLOWED_POSITIONAL:
                offenders.append(f"{path}({', '.join(positional)}, ...)")
    assert not offenders, (
        "public service functions take keyword arguments only (`def f(*, ...)`); "
        f"these take positional ones: {offenders}"
    )


def test_the_allow_list_names_only_functions_that_need_it():
    found = {
        path: func
        for module_name in service_module_names()
        for path, func in public_functions(module_name)
    }
    for path in ALLOWED_POSITIONAL:
        assert path in found, f"{path} is allowed positional parameters but does not exist"
        assert positional_parameters(found[path]), f"{path} no longer needs the exception"
