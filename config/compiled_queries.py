"""Queries compiled once per process, run many times with new values.

Django builds a query's SQL on every call: for a query with subqueries that costs
milliseconds of CPU against a fraction of a millisecond to run it (the history page's
room, read counts and reactions: docs/performance.md, "Message history"). A query built
here once with *slot* values (values no row has) keeps its SQL; each call copies the
compiled parameters and puts the real values in the slots' places. Only for queries
whose shape never depends on the values (the caller keys the cache by what does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

_FIRST_SLOT = -(2**62)


def int_slot(number: int) -> int:
    """The ``number``-th integer slot: an id or a count no row has."""
    return _FIRST_SLOT + 7 + number


def time_slot(number: int) -> dt.datetime:
    """The ``number``-th datetime slot: a moment no row has."""
    return dt.datetime(1901, 2, 3, 4, 5, 6, number, tzinfo=dt.UTC)


@dataclass(frozen=True)
class CompiledQuery:
    alias: str
    sql: str
    params: tuple
    positions: dict[str, tuple[int, ...]]

    @classmethod
    def build(cls, queryset: QuerySet, *, alias: str, slots: dict[str, Any]) -> CompiledQuery:
        """Compile ``queryset`` (built with ``slots``' values) for database ``alias``;
        every slot must appear at least once among its parameters."""
        sql, params = queryset.query.get_compiler(alias).as_sql()
        positions = {
            name: tuple(index for index, param in enumerate(params) if param == value)
            for name, value in slots.items()
        }
        missing = [name for name, found in positions.items() if not found]
        if missing:
            raise AssertionError(f"slots {missing} not among the parameters of {sql!r}")
        return cls(alias=alias, sql=sql, params=tuple(params), positions=positions)

    def fetch(self, **values: Any) -> tuple[list[str], list[tuple]]:
        """Run it with ``values`` in the slots: (column names, rows)."""
        params = list(self.params)  # a copy: the compiled params are shared by every thread
        for name, value in values.items():
            for index in self.positions[name]:
                params[index] = value
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
            names = [column[0] for column in cursor.description]
        return names, rows
