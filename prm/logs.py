"""Logs that say which request they belong to.

Every request gets an id: the caller's ``X-Request-ID`` when it is a sane token (a load
balancer or another service in front of the site sent it), otherwise a fresh one; the
response carries it back in the same header. The id and the signed-in user's id live in a
context variable that ``RequestContextFilter`` copies onto every log record, and the tasks
a request enqueues carry the id in their message headers, so that the worker's log lines
about that work show the same id (``task_headers_add`` on the publishing side,
``task_context_enter``/``task_context_leave`` in the worker).

Production writes the records as JSON lines (``LOG_FORMAT=json``, python-json-logger):
``timestamp``, ``level``, ``logger``, ``message``, ``request_id``, ``user_id``.
"""

import logging
import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

from celery.signals import before_task_publish, task_postrun, task_prerun

REQUEST_ID_HEADER = "X-Request-ID"
# The name of the id in a task message's headers.
TASK_HEADER = "request_id"
# What is accepted from a caller: short, and nothing that could forge a log line or a header.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass
class LogContext:
    request_id: str | None
    user_id: int | None = None


_context: ContextVar[LogContext | None] = ContextVar("log_context", default=None)
# A task's context token, by task id, so that the end of the task restores what was there
# before: the request's own context when a task runs eagerly inside the request.
_task_tokens: dict[str, Token] = {}


def sane_request_id(value: object) -> str | None:
    if isinstance(value, str) and SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def current() -> LogContext | None:
    return _context.get()


def context_set(request_id: str | None, user_id: int | None = None) -> Token:
    return _context.set(LogContext(request_id=request_id, user_id=user_id))


def context_clear(**kwargs) -> None:
    """Forget the request (connected to ``request_finished``: after Django has logged the
    response, so that its own warning about a 4xx or 5xx still carries the id)."""
    _context.set(None)


def user_set(user) -> None:
    """Record who the current request is from. The middleware does it for session users;
    the API's token authentication knows its user only inside the view and calls this."""
    context = _context.get()
    if context is not None and user is not None and user.is_authenticated:
        context.user_id = user.pk


class RequestIdMiddleware:
    """First in the stack: every response, whoever answers it, carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        request.request_id = request_id
        context_set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        # After the authentication middleware: the session's user is known (its lookup is
        # the one the view makes anyway; an anonymous visitor without a session costs none).
        user_set(getattr(request, "user", None))


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` to every record (``None`` outside a request or
    task), for the formatters to print. Attached to the handlers, so it sees every logger's
    records."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        record.request_id = context.request_id if context else None
        record.user_id = context.user_id if context else None
        return True


# ---------------------------------------------------------------- Celery


@before_task_publish.connect
def task_headers_add(headers: dict | None = None, **kwargs) -> None:
    """A task sent while a request is being served carries the request's id."""
    context = _context.get()
    if headers is not None and context is not None and context.request_id:
        headers.setdefault(TASK_HEADER, context.request_id)


@task_prerun.connect
def task_context_enter(task_id: str | None = None, task=None, **kwargs) -> None:
    """In the worker: the task's log lines carry the id of the request that sent it. A task
    run eagerly (no message) keeps the context it runs in."""
    sent = sane_request_id(getattr(task.request, TASK_HEADER, None)) if task else None
    if sent is None:
        headers = getattr(task.request, "headers", None) if task else None
        sent = sane_request_id((headers or {}).get(TASK_HEADER))
    if sent is not None and task_id:
        _task_tokens[task_id] = context_set(sent)


@task_postrun.connect
def task_context_leave(task_id: str | None = None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is None:
        return
    try:
        _context.reset(token)
    except ValueError:  # ended in another context than it began in (a thread pool)
        _context.set(None)
