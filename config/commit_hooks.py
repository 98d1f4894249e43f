"""Commit hooks that run once per transaction, whatever the number of writes asking.

A batch of sends in one room (``community.chat.services.check_send_messages``) asks
after each message for the same follow-up: schedule the room's push, announce the
room's read counts. Each is about the room as it is once committed, so one run after
the commit does what every request asked for, with one cache round trip instead of one
per message. It runs where the LAST request would have run it: after every hook
registered before that request (the read counts after the messages they count).
"""

from collections.abc import Callable, Hashable

from django.db import transaction


class _OnceHook:
    def __init__(self, key: Hashable, func: Callable[[], None]) -> None:
        self.key = key
        self.func = func
        self.ran = False
        # Django names a robust hook that failed by it in the log.
        self.__qualname__ = getattr(func, "__qualname__", repr(func))

    def __call__(self) -> None:
        self.ran = True
        self.func()


def on_commit_once(key: Hashable, func: Callable[[], None], *, robust: bool = False) -> None:
    """``transaction.on_commit(func)`` unless a hook with ``key`` is registered already in
    this transaction (the first one runs; it must do what any of them would). Outside a
    transaction ``func`` runs now, as ``on_commit`` would run it."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # Django drops a hook whose savepoint rolled back: a later request adds it again.
        # One that ran already (tests run hooks inside the test's transaction) is done.
        hooks = connection.run_on_commit
        for index, (savepoints, hook, was_robust) in enumerate(hooks):
            if isinstance(hook, _OnceHook) and hook.key == key and not hook.ran:
                # Moved to the end. Dropped only with a savepoint around both requests
                # (Django drops a hook when any savepoint in its set rolls back).
                del hooks[index]
                kept = savepoints & set(connection.savepoint_ids)
                hooks.append((kept, hook, was_robust))
                return
    transaction.on_commit(_OnceHook(key, func), robust=robust)
