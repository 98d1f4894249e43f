"""A queryset's SQL built once and run many times with other values.

Django compiles a queryset's SQL on every call; for the small queries on hot paths that
costs more client CPU than the database spends running them (docs/performance.md,
Ledger). Build the queryset once (per process, database vendor and shape, e.g. in a
``functools.cache`` function) with *marker* values where the varying ones go, wrap it
in :class:`MarkedQuery`, then ``bind`` the real values per call. A marker is a value no
row has and no other parameter equals (a large negative id, a string starting with
NUL); each must show up among the compiled parameters exactly once.
"""

from collections.abc import Hashable, Iterable, Mapping
from typing import Any


class MarkedQuery:
    """The compiled SQL and parameters of a queryset built with marker values."""

    __slots__ = ("_params", "_slots", "sql")

    def __init__(self, queryset, *, markers: Iterable[Hashable]) -> None:
        wanted = set(markers)
        sql, params = queryset.query.sql_with_params()
        slots = [
            (index, value)
            for index, value in enumerate(params)
            if isinstance(value, Hashable) and value in wanted
        ]
        found = [marker for _index, marker in slots]
        if sorted(map(repr, found)) != sorted(map(repr, wanted)):
            raise AssertionError(f"each marker must appear once in the params: {found}")
        self.sql = sql
        self._params = tuple(params)
        self._slots = tuple(slots)

    def bind(self, values: Mapping[Hashable, Any]) -> list:
        """The parameters with each marker replaced by its value (a new list per call:
        the compiled ones are shared by every thread of the process)."""
        params = list(self._params)
        for index, marker in self._slots:
            params[index] = values[marker]
        return params
