"""Who made a change, for the history of every audited row (django-simple-history).

In a web request simple-history's middleware records the signed-in user. A service called
from a task, a command or another service knows better: the user it was told acts
(``by=…``). ``audited`` makes that user the author of every history record the service
writes, so the admin's history pages say who and when however the change came in.

A history record's change reason is often the user's own words (a rejection's reason, an
escalation's): ``fit_change_reason`` cuts it to its column, so a long text is kept in the
row it belongs to and shortened only in the history's one-line summary.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

from simple_history.models import HistoricalRecords

ELLIPSIS = "…"

# The keyword a service takes for the user who acts, in the order they are looked for.
ACTOR_KEYWORDS = (
    "by",
    "changed_by",
    "created_by",
    "submitted_by",
    "awarded_by",
    "recorded_by",
    "invited_by",
)


class _Actor:
    """Stands for the request in simple-history's thread-local context: only ``user``
    is read from it."""

    def __init__(self, user):
        self.user = user


@contextmanager
def acting_user(user) -> Iterator[None]:
    """History records written inside the block name ``user`` (nothing changes for None)."""
    if user is None or not getattr(user, "is_authenticated", False):
        yield
        return
    context = HistoricalRecords.context
    missing = object()
    previous = getattr(context, "request", missing)
    context.request = _Actor(user)
    try:
        yield
    finally:
        if previous is missing:
            del context.request
        else:
            context.request = previous


def audited(service: Callable) -> Callable:
    """Record the service's acting user (its ``by``-like keyword) as the author of its
    history records."""

    @wraps(service)
    def wrapper(*args, **kwargs):
        user = next((kwargs[k] for k in ACTOR_KEYWORDS if kwargs.get(k) is not None), None)
        with acting_user(user):
            return service(*args, **kwargs)

    return wrapper


def fit_change_reason(sender, *, history_instance, **kwargs) -> None:
    """``pre_create_historical_record`` receiver (connected in ``PrmConfig.ready``)."""
    reason = history_instance.history_change_reason
    if not reason:
        return
    limit = history_instance._meta.get_field("history_change_reason").max_length
    if limit and len(reason) > limit:
        history_instance.history_change_reason = reason[: limit - 1] + ELLIPSIS
