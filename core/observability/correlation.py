"""One correlation id per unit of work: API request → tasks → outside calls → webhooks.

The id lives in a contextvar. The middleware takes it from `X-Correlation-Id` (or makes
one), Celery carries it in a message header, clients send it to outside systems, and
the logging filter stamps it on every line.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from celery import signals

from core.observability.redaction import contains_pan

HEADER = "X-Correlation-Id"
_META_KEY = "HTTP_X_CORRELATION_ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def get() -> str:
    return _current.get()


def set(value: str) -> contextvars.Token:  # noqa: A001 - mirrors ContextVar.set
    return _current.set(value)


def new() -> str:
    return uuid.uuid4().hex


def ensure() -> str:
    """Current id, or a fresh one bound from now on (for beat and shell work)."""
    value = _current.get()
    if not value:
        value = new()
        _current.set(value)
    return value


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(_META_KEY, "")
        # An id from outside is only trusted when it looks like one (log injection), and
        # never when it holds a card number (it is logged, stored and sent on).
        value = incoming if _VALID.match(incoming) and not contains_pan(incoming) else new()
        token = _current.set(value)
        request.correlation_id = value
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = value
        return response


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = _current.get() or "-"
        return True


# The task message header carrying the id. Not "correlation_id": Celery sets the AMQP
# property of that name to the task id and copies it over the header of the same name
# in task.request, so every task would have logged its own task id instead.
TASK_HEADER = "x_correlation_id"


@signals.before_task_publish.connect
def _stamp_outgoing_task(headers=None, **_kwargs):
    if headers is not None and _current.get():
        headers.setdefault(TASK_HEADER, _current.get())


# Context tokens of the ids bound by task_prerun, per task id, so task_postrun restores
# what was there before (nothing in a worker; the caller's id for an eager .apply()).
# An eager retry runs again under the same task id, inside the first run: hence a stack.
_task_tokens: dict[str, list[contextvars.Token]] = {}


@signals.task_prerun.connect
def _bind_task_correlation(task_id=None, task=None, **_kwargs):
    value = getattr(task.request, TASK_HEADER, None) if task else None
    if value and not _VALID.match(str(value)):
        value = None  # whoever published it is not trusted to write our log lines
    if not value and task is not None and task.request.is_eager:
        value = _current.get()  # run in-process by its caller: the caller's unit of work
    _task_tokens.setdefault(task_id, []).append(_current.set(value or new()))


@signals.task_postrun.connect
def _unbind_task_correlation(task_id=None, **_kwargs):
    stack = _task_tokens.get(task_id)
    if not stack:
        _current.set("")
        return
    token = stack.pop()
    if not stack:
        del _task_tokens[task_id]
    try:
        _current.reset(token)
    except ValueError:  # bound in another context (should not happen): just clear it
        _current.set("")
