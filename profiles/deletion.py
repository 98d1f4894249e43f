"""Deleting an account: a registry of hooks, one per area that holds the user's data.

Each app registers its hook in its ``AppConfig.ready()``::

    from profiles.deletion import register_deletion_hook
    register_deletion_hook("ledger", anonymise_ledger_entries)

A hook is called as ``fn(user=user, delete_messages=bool)`` inside the deletion
transaction, before the user row becomes an anonymous tombstone. Hooks must not
delete the user row: records that must stay (ledger entries) keep pointing at it.
Hooks run in registration order (INSTALLED_APPS order of the apps' ``ready()``).
"""

from collections.abc import Callable

DeletionHook = Callable[..., None]
_hooks: dict[str, DeletionHook] = {}


def register_deletion_hook(name: str, fn: DeletionHook) -> None:
    _hooks[name] = fn


def deletion_hook_names() -> list[str]:
    return list(_hooks)


def run_deletion_hooks(*, user, delete_messages: bool) -> None:
    for fn in _hooks.values():
        fn(user=user, delete_messages=delete_messages)
