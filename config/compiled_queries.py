"""ORM queries compiled once per process, for the statements on the hottest paths.

Building a query's SQL (Django's ``Query`` → compiler → SQL) costs far more CPU than
running a small indexed statement: ~0.5–1 ms per query against ~0.1–0.2 ms on the
database for the queries of a chat send (docs/performance.md, Fanout). A
:class:`CompiledQuery` builds its queryset once per process and database with marker
values standing in for the arguments, keeps the SQL, and then only substitutes the
arguments and turns the rows into model instances the way the ORM does (``select_related``
objects and annotations included). ``community.notifications.selectors._unread_counts_sql``
does the same for a values query.

Only for querysets whose shape does not depend on the arguments (no ``__in`` lists, no
optional filters): each argument must appear among the SQL parameters (as many times
as the queryset uses it, e.g. a viewer id in two subqueries). A list of ids (kind
``list``) is one array parameter, on PostgreSQL (``IN (SELECT unnest(%s::bigint[]))``).

Three shapes, by what the caller needs back: :class:`CompiledQuery` returns a model
instance (``first``), built from a function of marker arguments; :class:`CompiledRows`
returns plain rows (``fetch``), built from a queryset made with *slot* values
(:func:`int_slot`, :func:`time_slot`): values no row has, whose places in the compiled
parameters take the real values; :class:`MarkedQuery` only binds the parameters, for a
caller that runs the SQL itself (inside a larger statement, or with its own cursor).
"""

import datetime as dt
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# Marker values no row has: where each argument goes in the compiled params.
_INT_SLOT_BASE = -(2**62) + 1000
# An integer argument outside a 64-bit column's range matches no row.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _slot(index: int, kind: type) -> Any:
    if kind is str:
        return f"\x1fmoim-slot-{index}\x1f"
    if kind is list:  # a list of ids, one array parameter (PostgreSQL: ``= ANY(%s)``)
        return [_INT_SLOT_BASE + index]
    return _INT_SLOT_BASE + index


class _Compiled:
    def __init__(self, queryset, db: str, markers: list[Any]) -> None:
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = tuple(params)
        self.slots = []
        for marker in markers:
            found = tuple(index for index, value in enumerate(params) if value == marker)
            if not found:
                raise AssertionError("each argument must be among the parameters")
            self.slots.append(found)
        # Value conversions by column, as ``results_iter`` applies them.
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(columns).items())
        klass_info = compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [
            column[0].target.attname for column in compiler.select[self.start : self.end]
        ]
        self.populators = get_related_populators(klass_info, compiler.select, db)
        self.annotations = dict(compiler.annotation_col_map or {})


class CompiledQuery:
    """``build(*markers)`` returns the queryset (ordered, of ``model``); ``first(*args)``
    runs it with the real arguments (one per marker, of the types in ``kinds``) and
    returns the first instance or None, like ``queryset.first()``. ``write``: on the
    database the router picks for writes (a ``select_for_update`` query)."""

    def __init__(
        self, model, build: Callable[..., Any], *, kinds: tuple[type, ...], write: bool = False
    ):
        self.model = model
        self.build = build
        self.kinds = kinds
        self.write = write
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, db: str) -> _Compiled:
        key = (db, connections[db].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    markers = [_slot(index, kind) for index, kind in enumerate(self.kinds)]
                    queryset = self.build(*markers)
                    compiled = self._compiled[key] = _Compiled(queryset, db, markers)
        return compiled

    def first(self, *args: Any) -> Any | None:
        found = self._run(args, many=False)
        return found[0] if found else None

    def all(self, *args: Any) -> list:
        """Every instance, like ``list(queryset)``."""
        return self._run(args, many=True)

    def _run(self, args: tuple, *, many: bool) -> list:
        db = router.db_for_write(self.model) if self.write else router.db_for_read(self.model)
        compiled = self._for(db)
        params = list(compiled.params)  # a copy: the compiled params are shared by threads
        for slots, kind, value in zip(compiled.slots, self.kinds, args, strict=True):
            value = kind(value)
            if kind is int and not _INT_MIN <= value <= _INT_MAX:
                return []  # no row has it (the ORM's answer; SQLite would raise)
            for slot in slots:
                params[slot] = value
        connection = connections[db]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall() if many else [row for row in [cursor.fetchone()] if row]
        return [self._instance(compiled, connection, db, row) for row in rows]

    @staticmethod
    def _instance(compiled: _Compiled, connection, db: str, row) -> Any:
        if compiled.converters:
            row = list(row)
            for position, (functions, expression) in compiled.converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        obj = compiled.model.from_db(db, compiled.init_list, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations.items():
            setattr(obj, name, row[position])
        return obj


# --- rows --------------------------------------------------------------------------------

_FIRST_SLOT = -(2**62)


def int_slot(number: int) -> int:
    """The ``number``-th integer slot: an id or a count no row has."""
    return _FIRST_SLOT + 7 + number


def time_slot(number: int) -> dt.datetime:
    """The ``number``-th datetime slot: a moment no row has."""
    return dt.datetime(1901, 2, 3, 4, 5, 6, number, tzinfo=dt.UTC)


@dataclass(frozen=True)
class CompiledRows:
    alias: str
    sql: str
    params: tuple
    positions: dict[str, tuple[int, ...]]

    @classmethod
    def build(cls, queryset: QuerySet, *, alias: str, slots: dict[str, Any]) -> "CompiledRows":
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


# --- parameters only ---------------------------------------------------------------------


class MarkedQuery:
    """The compiled SQL and parameters of a queryset built with marker values."""

    __slots__ = ("_params", "_slots", "sql")

    def __init__(self, queryset, *, markers: Iterable[Hashable]) -> None:
        # Each marker as given: a parameter may be a wrapped equal value (psycopg's
        # ``Int2`` for a small integer column).
        wanted = {marker: marker for marker in markers}
        sql, params = queryset.query.sql_with_params()
        slots = [
            (index, wanted[value])
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
