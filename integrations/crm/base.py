"""What every CRM connector offers, and the HTTP session they all send through.

A connector reads the records changed since a watermark and upserts records by the
PRM's external id; it knows its CRM's wire format and nothing of the PRM's models (the
sync service, ``integrations.crm.sync``, maps fields and writes through ``partners``'
services). A third CRM is one more module with one more ``Connector`` subclass.

``CrmSession`` is the one place where answers are judged before a client library sees
them: 401 refreshes the OAuth token once and sends the request again; 429 and 5xx wait
(``Retry-After`` when the CRM says how long, else an exponential backoff) and try again,
up to a limit; a wait longer than a task may sleep, or a CRM's daily quota spent, stops
the run with ``RateLimited`` so that what is left is tried on the next one.
"""

import email.utils
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

logger = logging.getLogger(__name__)

# Seconds: connect, read. A CRM that answers slower than this is tried again later.
TIMEOUT = (5, 30)


class CrmError(Exception):
    """The CRM refused or failed a request. ``retryable``: the same request may succeed
    later (a timeout, a 5xx, a limit); otherwise a person has to look (bad data, a
    missing field, a permission)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


class RateLimited(CrmError):
    """The CRM asks us to wait longer than a run may: stop here, go on next run."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after


class NotConfigured(CrmError):
    """The environment lacks this CRM's credentials (docs/crm.md lists them)."""


@dataclass(frozen=True)
class RemoteRecord:
    """One record as the CRM holds it: its id, when it last changed there, and its fields
    (relationship fields flattened: ``Owner.Email``)."""

    external_id: str
    modified_at: datetime
    fields: dict


@dataclass(frozen=True)
class Outgoing:
    """One record to upsert: the PRM's key for it (the external-id field's value, such as
    ``partner-12``) and the CRM fields to write."""

    key: str
    fields: dict


@dataclass
class PushResult:
    """How the CRM answered for one ``Outgoing``: its CRM id when it was written, else
    the CRM's message. ``created``: the CRM made a new record (a first push, or one
    recreated after it was deleted there)."""

    key: str
    ok: bool
    external_id: str = ""
    created: bool = False
    error: str = ""
    retryable: bool = False


@dataclass
class ApiUsage:
    used: int = 0
    limit: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class CrmSession(requests.Session):
    """A ``requests`` session that owns the bearer token and the waiting.

    ``refresh`` returns a new access token (the OAuth refresh-token flow); ``None`` when the
    token cannot be refreshed (a private app's token), so a 401 is then an error for a
    person. ``sleep`` is swappable so that tests do not wait.
    """

    def __init__(
        self,
        *,
        token: str = "",
        refresh: Callable[[], str] | None = None,
        max_attempts: int = 4,
        max_wait: float = 60.0,
        backoff: float = 1.0,
        usage_ceiling: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self.token = token
        self.refresh = refresh
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.usage_ceiling = usage_ceiling
        self.sleep = sleep
        self.usage = ApiUsage()
        self.waited: list[float] = []

    def authorize(self) -> str:
        if not self.token:
            self.token = self._refreshed()
        return self.token

    def _refreshed(self) -> str:
        if self.refresh is None:
            raise CrmError(
                "The CRM refused the access token and it cannot be refreshed: "
                "check the token in the environment.",
                status=401,
            )
        return self.refresh()

    def raw(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request as it is: no token, no retry (the token endpoint itself)."""
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            return super().request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise CrmError(f"{method} {url}: {exc}", retryable=True) from exc

    def request(self, method, url, *args, **kwargs) -> requests.Response:
        if self.usage.limit and self.usage.share >= self.usage_ceiling:
            raise RateLimited(
                f"The CRM's API calls for today are {self.usage.used} of {self.usage.limit}: "
                "the sync stops here to leave the rest to other integrations.",
                retry_after=3600,
                status=None,
            )
        kwargs.setdefault("timeout", TIMEOUT)
        headers = dict(kwargs.pop("headers", None) or {})
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            headers["Authorization"] = f"Bearer {self.authorize()}"
            try:
                response = super().request(method, url, *args, headers=headers, **kwargs)
            except requests.RequestException as exc:
                if attempt >= self.max_attempts:
                    raise CrmError(f"{method} {url}: {exc}", retryable=True) from exc
                self._wait(self.backoff * 2 ** (attempt - 1), f"{type(exc).__name__}")
                continue
            self.observe(response)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                attempt -= 1  # a refreshed token is not a retry
                logger.info("CRM answered 401 for %s %s: refreshing the token", method, url)
                self.token = self._refreshed()
                continue
            limit_exceeded = response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in (
                response.text or ""
            )
            if limit_exceeded:
                raise RateLimited(
                    f"Salesforce: REQUEST_LIMIT_EXCEEDED ({response.text[:300]})",
                    retry_after=3600,
                    status=403,
                )
            if response.status_code == 429 or response.status_code >= 500:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self.backoff * 2 ** (attempt - 1)
                if response.status_code == 429 and wait > self.max_wait:
                    raise RateLimited(
                        f"The CRM asks to wait {wait:.0f} s ({response.text[:200]})",
                        retry_after=wait,
                    )
                if attempt >= self.max_attempts:
                    if response.status_code == 429:
                        raise RateLimited(
                            f"Still rate-limited after {attempt} attempts ({response.text[:200]})",
                            retry_after=wait,
                        )
                    return response  # the client library reports the 5xx
                self._wait(min(wait, self.max_wait), str(response.status_code))
                continue
            return response

    def _wait(self, seconds: float, why: str) -> None:
        logger.info("CRM answered %s: waiting %.1f s before trying again", why, seconds)
        self.waited.append(seconds)
        self.sleep(seconds)

    def observe(self, response: requests.Response) -> None:
        """Salesforce reports the org's API usage on every answer (``Sforce-Limit-Info:
        api-usage=18/5000``)."""
        info = response.headers.get("Sforce-Limit-Info", "")
        match = re.search(r"api-usage=(\d+)/(\d+)", info)
        if match:
            self.usage = ApiUsage(used=int(match[1]), limit=int(match[2]))


class Connector(ABC):
    """One CRM. ``fields`` arguments are the CRM fields the field mappings ask for."""

    provider: str
    # The CRM field holding the PRM's key of what it pushed (Salesforce ``PRM_Id__c``,
    # HubSpot ``prm_id``): upserts match on it, so a retry or a second push never makes a
    # second record, and inbound reads pass over the records that are ours.
    external_id_field: str

    def __init__(self, *, session: CrmSession):
        self.session = session

    @classmethod
    @abstractmethod
    def from_environment(cls, *, sleep: Callable[[float], None] = time.sleep) -> "Connector":
        """A connector with the credentials of the environment; ``NotConfigured`` without."""

    @abstractmethod
    def refresh_token(self) -> str:
        """A new access token by the OAuth refresh-token flow."""

    @abstractmethod
    def changed_accounts(self, *, since: datetime | None, fields: list[str]) -> Iterator[list]:
        """Pages of ``RemoteRecord``: customer accounts modified at or after ``since``,
        oldest first, with the owner's e-mail as ``owner_email``."""

    @abstractmethod
    def changed_leads(self, *, since: datetime | None, fields: list[str]) -> Iterator[list]:
        """Pages of ``RemoteRecord``: leads modified at or after ``since``, oldest first."""

    @abstractmethod
    def upsert_partner_accounts(self, records: list[Outgoing]) -> list[PushResult]:
        """Create or update partner accounts by external id; one result per record."""

    @abstractmethod
    def upsert_opportunities(self, records: list[Outgoing]) -> list[PushResult]:
        """Create or update opportunities (deals) by external id; one result per record."""

    # The value of the account type that marks a partner account, and the opportunity
    # stage for each registration status.
    partner_type: str = "Partner"
    stages: dict[str, str] = {}

    # Pushed in batches of at most this many (Salesforce sObject Collections: 200;
    # HubSpot batch upsert: 100).
    batch_size: int = 100

    def upsert(self, object_type: str, records: list[Outgoing]) -> list[PushResult]:
        if object_type == "partner":
            return self.upsert_partner_accounts(records)
        if object_type == "deal":
            return self.upsert_opportunities(records)
        raise ValueError(f"Nothing is pushed for {object_type!r}.")

    def changed(
        self, object_type: str, *, since: datetime | None, fields: list[str]
    ) -> Iterator[list]:
        if object_type == "account":
            return self.changed_accounts(since=since, fields=fields)
        if object_type == "lead":
            return self.changed_leads(since=since, fields=fields)
        raise ValueError(f"Nothing is pulled for {object_type!r}.")
