"""Salesforce through simple-salesforce, on the REST API.

In: SOQL on Account and Lead ordered by ``LastModifiedDate``, page by page
(``nextRecordsUrl``); records that carry our external id are ours (partner accounts)
and are passed over. Out: sObject Collections upsert on the external-id field
(``PATCH /composite/sobjects/{type}/{field}``, ``allOrNone: false``), 200 records a
request, one answer per record. A dotted field such as ``Partner_Account__r.PRM_Id__c``
is written as a relationship by external id, so an opportunity names its partner account
without knowing its Salesforce id.
"""

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from django.conf import settings
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from .base import (
    Connector,
    CrmError,
    CrmSession,
    NotConfigured,
    Outgoing,
    PushResult,
    RemoteRecord,
)

FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
# Per-record error codes that may pass by themselves (Salesforce's own list of transient
# conditions): tried again on the next run without a person.
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"}


def soql_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> datetime:
    """Salesforce's ``2026-11-02T10:15:00.000+0000``."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _flatten(record: dict, fields: list[str]) -> dict:
    flat = {}
    for name in fields:
        value = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        flat[name] = value
    return flat


def _nest(fields: dict) -> dict:
    """``{"Partner_Account__r.PRM_Id__c": "partner-3"}`` → ``{"Partner_Account__r":
    {"PRM_Id__c": "partner-3"}}`` (a lookup by external id)."""
    nested: dict = {}
    for name, value in fields.items():
        if "." in name:
            relation, field = name.split(".", 1)
            nested.setdefault(relation, {})[field] = value
        else:
            nested[name] = value
    return nested


def _message(errors: list) -> tuple[str, bool]:
    codes = [e.get("statusCode") or e.get("errorCode") or "" for e in errors]
    text = "; ".join(
        f"{code}: {e.get('message', '')}"
        + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
        for code, e in zip(codes, errors, strict=True)
    )
    return text or "Salesforce refused the record without saying why.", bool(
        codes and set(codes) <= RETRYABLE_CODES
    )


def _error_of(exc: SalesforceError) -> CrmError:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        message, _ = _message(content)
    else:
        message = str(content)[:500]
    status = getattr(exc, "status", None)
    return CrmError(
        f"Salesforce {status}: {message}", status=status, retryable=bool(status and status >= 500)
    )


class SalesforceConnector(Connector):
    provider = "salesforce"
    batch_size = 200
    partner_type = "Partner"
    # StageName of an opportunity for each registration status (the standard picklist).
    stages = {
        "pending": "Prospecting",
        "approved": "Qualification",
        "won": "Closed Won",
        "lost": "Closed Lost",
        "rejected": "Closed Lost",
        "expired": "Closed Lost",
    }

    def __init__(
        self,
        *,
        session: CrmSession,
        instance_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        login_url: str = "https://login.salesforce.com",
        version: str = "62.0",
        external_id_field: str = "PRM_Id__c",
    ):
        super().__init__(session=session)
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token_value = refresh_token
        self.login_url = login_url.rstrip("/")
        self.external_id_field = external_id_field
        session.refresh = self.refresh_token
        # The session sets the Authorization header itself (and refreshes it on 401);
        # simple-salesforce's own header is replaced on every request.
        self.sf = Salesforce(
            instance_url=instance_url,
            session_id=session.token or "refreshed-on-first-use",
            session=session,
            version=version,
        )

    @classmethod
    def from_environment(cls, *, sleep: Callable[[float], None] = time.sleep):
        needed = {
            "SALESFORCE_CLIENT_ID": settings.SALESFORCE_CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": settings.SALESFORCE_CLIENT_SECRET,
            "SALESFORCE_REFRESH_TOKEN": settings.SALESFORCE_REFRESH_TOKEN,
            "SALESFORCE_INSTANCE_URL": settings.SALESFORCE_INSTANCE_URL,
        }
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise NotConfigured(f"Salesforce is not configured: set {', '.join(missing)}.")
        session = CrmSession(
            max_wait=settings.CRM_MAX_WAIT_SECONDS,
            usage_ceiling=settings.SALESFORCE_API_USAGE_CEILING,
            sleep=sleep,
        )
        return cls(
            session=session,
            instance_url=settings.SALESFORCE_INSTANCE_URL,
            client_id=settings.SALESFORCE_CLIENT_ID,
            client_secret=settings.SALESFORCE_CLIENT_SECRET,
            refresh_token=settings.SALESFORCE_REFRESH_TOKEN,
            login_url=settings.SALESFORCE_LOGIN_URL,
            version=settings.SALESFORCE_API_VERSION,
            external_id_field=settings.SALESFORCE_EXTERNAL_ID_FIELD,
        )

    def refresh_token(self) -> str:
        response = self.session.raw(
            "POST",
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token_value,
            },
        )
        if response.status_code != 200:
            try:
                body = response.json()
                why = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                why = response.text[:300]
            raise CrmError(
                f"Salesforce refused to refresh the token ({why}): check "
                "SALESFORCE_REFRESH_TOKEN and the connected app.",
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        token = response.json()["access_token"]
        self.session.token = token
        return token

    # ---------------------------------------------------------------- in

    def _pages(self, soql: str, fields: list[str]) -> Iterator[list[RemoteRecord]]:
        try:
            result = self.sf.query(soql)
            while True:
                yield [
                    RemoteRecord(
                        external_id=row["Id"],
                        modified_at=parse_datetime(row["LastModifiedDate"]),
                        fields=_flatten(row, fields),
                    )
                    for row in result["records"]
                ]
                if result.get("done", True):
                    return
                result = self.sf.query_more(result["nextRecordsUrl"], identifier_is_url=True)
        except SalesforceError as exc:
            raise _error_of(exc) from exc

    def _soql(self, sobject: str, fields: list[str], since: datetime | None, mine: bool) -> str:
        bad = [name for name in fields if not FIELD_NAME.match(name)]
        if bad:
            raise CrmError(f"Not a Salesforce field name: {', '.join(bad)}")
        columns = ", ".join(dict.fromkeys(["Id", "LastModifiedDate", *fields]))
        where = [f"{self.external_id_field} = null"] if mine else []
        if since is not None:
            where.append(f"LastModifiedDate >= {soql_datetime(since)}")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT {columns} FROM {sobject}{clause} ORDER BY LastModifiedDate, Id"

    def changed_accounts(self, *, since, fields) -> Iterator[list]:
        return self._pages(self._soql("Account", fields, since, mine=True), fields)

    def changed_leads(self, *, since, fields) -> Iterator[list]:
        return self._pages(self._soql("Lead", fields, since, mine=False), fields)

    # ---------------------------------------------------------------- out

    def _upsert(self, sobject: str, records: list[Outgoing]) -> list[PushResult]:
        body = {
            "allOrNone": False,
            "records": [
                {
                    "attributes": {"type": sobject},
                    **_nest(record.fields),
                    self.external_id_field: record.key,
                }
                for record in records
            ],
        }
        try:
            answers = self.sf.restful(
                f"composite/sobjects/{sobject}/{self.external_id_field}", method="PATCH", json=body
            )
        except SalesforceError as exc:
            raise _error_of(exc) from exc
        if not isinstance(answers, list) or len(answers) != len(records):
            raise CrmError(f"Salesforce answered the upsert with {answers!r:.300}", retryable=True)
        results = []
        for record, answer in zip(records, answers, strict=True):
            if answer.get("success"):
                results.append(
                    PushResult(
                        key=record.key,
                        ok=True,
                        external_id=answer.get("id") or "",
                        created=bool(answer.get("created")),
                    )
                )
            else:
                message, retryable = _message(answer.get("errors") or [])
                results.append(
                    PushResult(key=record.key, ok=False, error=message, retryable=retryable)
                )
        return results

    def upsert_partner_accounts(self, records) -> list[PushResult]:
        return self._upsert("Account", records)

    def upsert_opportunities(self, records) -> list[PushResult]:
        return self._upsert("Opportunity", records)
