"""Structured logs with a request id on every line.

A request id belongs to one HTTP request (taken from a sane ``X-Request-ID`` sent by the
proxy, else generated, and echoed in the response), one WebSocket session, or one Celery
task run. It lives in a context variable, so every log line written while handling that
request, socket or task carries it: :class:`ContextFilter` adds it to each record, and
the JSON formatter (python-json-logger) writes it as a field. A task published while
handling a request carries the request's id in its message headers
(:func:`stamp_task_headers`); the worker binds it again before the task runs
(:func:`bind_task_context`), so the worker's lines for that task share the id.

``LOG_FORMAT=json`` (the default with ``DEBUG`` off) or ``text`` (the default with it on).
"""

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar, Token

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from config.metrics import ENQUEUED_AT_HEADER

REQUEST_ID_HEADER = "X-Request-ID"
# Task message header that carries the id into the worker.
TASK_REQUEST_ID_HEADER = "moim_request_id"
# What the proxy may hand us: UUIDs, hex, the usual trace ids. Anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{8,128}")
# The fields ContextFilter copies from the context onto each record.
CONTEXT_FIELDS = ("request_id", "task_id", "task_name")

_context: ContextVar[dict[str, str]] = ContextVar("moim_log_context", default={})  # noqa: B039

access_logger = logging.getLogger("moim.access")
socket_logger = logging.getLogger("moim.socket")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str:
    """``value`` when it looks like a request id, else a new one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return _context.get().get("request_id")


def bind(**values: str) -> Token:
    """Add ``values`` to the log context; undo with :func:`unbind`."""
    return _context.set({**_context.get(), **values})


def unbind(token: Token) -> None:
    _context.reset(token)


@contextlib.contextmanager
def bound(**values: str) -> Iterator[None]:
    token = bind(**values)
    try:
        yield
    finally:
        unbind(token)


# --- Formatting ---------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Copies the request id (and task id and name, in a task) onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if name in CONTEXT_FIELDS and not hasattr(record, name):
                setattr(record, name, value)
        if not hasattr(record, "request_id"):
            # Django logs a 4xx ("Not Found: ...") after the middleware returned; the
            # record carries the request, which carries its id.
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            if request_id:
                record.request_id = request_id
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)


class TextFormatter(logging.Formatter):
    """Plain lines for development, with the request id when there is one."""

    def __init__(self, *args, **kwargs):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return super().format(record)


# --- HTTP -----------------------------------------------------------------------------------


def _begin(request) -> tuple[str, Token, float]:
    request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
    request.request_id = request_id
    return request_id, bind(request_id=request_id), time.perf_counter()


def _finish(request, response, request_id: str, token: Token, started: float):
    response[REQUEST_ID_HEADER] = request_id
    # The path only: query strings may carry search terms or socket tickets.
    access_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    unbind(token)
    return response


@sync_and_async_middleware
def request_id_middleware(get_response):
    """First in the stack: binds the request id for everything below, echoes it in the
    response's ``X-Request-ID``, and writes one access log line per request."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            request_id, token, started = _begin(request)
            try:
                response = await get_response(request)
            except BaseException:
                unbind(token)
                raise
            return _finish(request, response, request_id, token, started)

    else:

        def middleware(request):
            request_id, token, started = _begin(request)
            try:
                response = get_response(request)
            except BaseException:
                unbind(token)
                raise
            return _finish(request, response, request_id, token, started)

    return middleware


# --- WebSockets -----------------------------------------------------------------------------


def socket_request_id(scope) -> str:
    """One id per socket session: the handshake's ``X-Request-ID`` when sane, else new."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            return sane_request_id(value.decode("latin-1"))
    return new_request_id()


# --- Celery ---------------------------------------------------------------------------------

# Tokens of the task runs in progress in this process, by task id.
_task_tokens: dict[str, Token] = {}


def stamp_task_headers(headers=None, **_kwargs) -> None:
    """``before_task_publish``: the publisher's request id (a new one outside any request,
    e.g. from beat) and the publish time travel in the message headers."""

    if headers is None:
        return
    headers.setdefault(TASK_REQUEST_ID_HEADER, current_request_id() or new_request_id())
    headers[ENQUEUED_AT_HEADER] = time.time()


def _header(request, name: str):
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def bind_task_context(task_id=None, task=None, **_kwargs) -> None:
    """``task_prerun``: the task's lines carry the publisher's request id (an eager run
    keeps the caller's), its task id and name."""
    request_id = None
    if task is not None:
        request_id = _header(task.request, TASK_REQUEST_ID_HEADER)
    request_id = sane_request_id(request_id or current_request_id())
    values = {"request_id": request_id}
    if task_id:
        values["task_id"] = task_id
    if task is not None:
        values["task_name"] = task.name
    _task_tokens[task_id] = bind(**values)


def unbind_task_context(task_id=None, **_kwargs) -> None:
    """``task_postrun``: back to the context the task started in."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):  # reset from another context
            unbind(token)


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(stamp_task_headers, dispatch_uid="moim-logs-publish")
    task_prerun.connect(bind_task_context, dispatch_uid="moim-logs-prerun")
    task_postrun.connect(unbind_task_context, dispatch_uid="moim-logs-postrun")
