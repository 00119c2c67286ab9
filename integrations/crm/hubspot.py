"""HubSpot through hubspot-api-client, on the CRM v3 API.

In: the search endpoints (``POST /crm/v3/objects/companies/search``, ``…/contacts/
search`` for contacts at the ``lead`` lifecycle stage) sorted by last modification,
100 a page; companies that carry our unique property are ours (partner accounts) and
are passed over. A company owner is a HubSpot user id: ``owner_email`` is its e-mail,
read from ``/crm/v3/owners``. Out: batch upsert on the unique property
(``POST /crm/v3/objects/{companies|deals}/batch/upsert`` with ``idProperty``), 100
records a request; 200 when all were written, 207 with ``errors`` for those that were
not.

The library's generated REST client speaks urllib3; its ``api_factory`` hook lets every
request go through the ``CrmSession`` instead, so 401, 429 and 5xx are handled once for
both CRMs.
"""

import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import urllib3
from django.conf import settings
from hubspot import Client
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.companies.exceptions import ApiException as CompaniesError
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearch
from hubspot.crm.contacts.exceptions import ApiException as ContactsError
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInputUpsert as DealsUpsert
from hubspot.crm.deals import SimplePublicObjectBatchInputUpsert as DealUpsert
from hubspot.crm.deals.exceptions import ApiException as DealsError
from hubspot.crm.owners.exceptions import ApiException as OwnersError

from .base import Connector, CrmError, CrmSession, NotConfigured, Outgoing, PushResult, RemoteRecord

API_ERRORS = (CompaniesError, ContactsError, DealsError, OwnersError)
TOKEN_URL = "https://api.hubapi.com/oauth/v1/token"
# HubSpot's search answers at most 10,000 results for one query: past that, the next run
# goes on from the watermark.
SEARCH_WINDOW = 10_000
# Per-record error categories that may pass by themselves.
RETRYABLE_CATEGORIES = {"RATE_LIMITS", "INTERNAL_ERROR", "TIMEOUT"}
OWNER_EMAIL = "owner_email"
LEAD_STAGE = "lead"


class _SessionPool:
    """The part of urllib3's ``PoolManager`` the generated REST client calls, answered
    through a ``CrmSession``."""

    def __init__(self, session: CrmSession):
        self.session = session

    def request(self, method, url, body=None, fields=None, headers=None, **kwargs):
        options = {}
        if body is not None:
            options["data"] = body
        elif fields:
            options["params" if method in ("GET", "HEAD", "DELETE") else "data"] = fields
        response = self.session.request(method, url, headers=dict(headers or {}), **options)
        answer_headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "transfer-encoding")
        }
        return urllib3.HTTPResponse(
            body=io.BytesIO(response.content),
            headers=answer_headers,
            status=response.status_code,
            reason=response.reason,
            preload_content=True,
            decode_content=False,
        )


def _api_error(exc: Exception) -> CrmError:
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None) or getattr(exc, "reason", "") or ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return CrmError(
        f"HubSpot {status}: {str(body)[:500]}",
        status=status,
        retryable=bool(status and (status >= 500 or status == 429)),
    )


def _millis(value: datetime) -> str:
    return str(int(value.timestamp() * 1000))


class HubSpotConnector(Connector):
    provider = "hubspot"
    batch_size = 100
    partner_type = "PARTNER"
    # dealstage of a deal for each registration status (the default pipeline's stages).
    stages = {
        "pending": "appointmentscheduled",
        "approved": "qualifiedtobuy",
        "won": "closedwon",
        "lost": "closedlost",
        "rejected": "closedlost",
        "expired": "closedlost",
    }

    def __init__(
        self,
        *,
        session: CrmSession,
        client_id: str = "",
        client_secret: str = "",
        refresh_token: str = "",
        external_id_field: str = "prm_id",
    ):
        super().__init__(session=session)
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token_value = refresh_token
        self.external_id_field = external_id_field
        # A private app's token does not refresh: a 401 is then for a person to fix.
        session.refresh = self.refresh_token if refresh_token else None
        self.client = Client.create(api_factory=self._api_factory)
        self._owners: dict[str, str] | None = None

    def _api_factory(self, package, api_name, config):
        configuration = package.Configuration()
        api_client = package.ApiClient(configuration=configuration)
        api_client.rest_client.pool_manager = _SessionPool(self.session)
        return getattr(package, api_name)(api_client=api_client)

    @classmethod
    def from_environment(cls, *, sleep: Callable[[float], None] = time.sleep):
        oauth = (
            settings.HUBSPOT_CLIENT_ID,
            settings.HUBSPOT_CLIENT_SECRET,
            settings.HUBSPOT_REFRESH_TOKEN,
        )
        if not settings.HUBSPOT_ACCESS_TOKEN and not all(oauth):
            raise NotConfigured(
                "HubSpot is not configured: set HUBSPOT_ACCESS_TOKEN (a private app), or "
                "HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN."
            )
        session = CrmSession(
            token=settings.HUBSPOT_ACCESS_TOKEN if not all(oauth) else "",
            max_wait=settings.CRM_MAX_WAIT_SECONDS,
            sleep=sleep,
        )
        return cls(
            session=session,
            client_id=settings.HUBSPOT_CLIENT_ID,
            client_secret=settings.HUBSPOT_CLIENT_SECRET,
            refresh_token=settings.HUBSPOT_REFRESH_TOKEN if all(oauth) else "",
            external_id_field=settings.HUBSPOT_EXTERNAL_ID_PROPERTY,
        )

    def refresh_token(self) -> str:
        response = self.session.raw(
            "POST",
            TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token_value,
            },
        )
        if response.status_code != 200:
            raise CrmError(
                f"HubSpot refused to refresh the token ({response.text[:300]}): check "
                "HUBSPOT_REFRESH_TOKEN and the app.",
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        answer = response.json()
        self.refresh_token_value = answer.get("refresh_token") or self.refresh_token_value
        self.session.token = answer["access_token"]
        return self.session.token

    # ---------------------------------------------------------------- in

    def owners(self) -> dict[str, str]:
        """Owner id → e-mail, read once per connector (a run)."""
        if self._owners is None:
            owners, after = {}, None
            try:
                while True:
                    page = self.client.crm.owners.owners_api.get_page(limit=100, after=after)
                    owners.update({owner.id: (owner.email or "") for owner in page.results})
                    if not (page.paging and page.paging.next):
                        break
                    after = page.paging.next.after
            except API_ERRORS as exc:
                raise _api_error(exc) from exc
            self._owners = owners
        return self._owners

    def _search(self, api, request_class, *, filters, modified, fields) -> Iterator[list]:
        wanted = [f for f in fields if f != OWNER_EMAIL]
        if OWNER_EMAIL in fields:
            wanted.append("hubspot_owner_id")
        after = None
        while True:
            request = request_class(
                filter_groups=[{"filters": filters}],
                sorts=[{"propertyName": modified, "direction": "ASCENDING"}],
                properties=list(dict.fromkeys([*wanted, modified])),
                limit=100,
                after=after,
            )
            try:
                page = api.do_search(public_object_search_request=request)
            except API_ERRORS as exc:
                raise _api_error(exc) from exc
            records = []
            for row in page.results:
                values = {name: row.properties.get(name) for name in wanted}
                if OWNER_EMAIL in fields:
                    owner = row.properties.get("hubspot_owner_id")
                    values[OWNER_EMAIL] = self.owners().get(owner, "") if owner else ""
                records.append(
                    RemoteRecord(external_id=row.id, modified_at=row.updated_at, fields=values)
                )
            yield records
            if not (page.paging and page.paging.next):
                return
            after = page.paging.next.after
            if int(after) >= SEARCH_WINDOW:
                return

    def changed_accounts(self, *, since, fields) -> Iterator[list]:
        filters = [{"propertyName": self.external_id_field, "operator": "NOT_HAS_PROPERTY"}]
        if since is not None:
            filters.append(
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": _millis(since)}
            )
        return self._search(
            self.client.crm.companies.search_api,
            CompanySearch,
            filters=filters,
            modified="hs_lastmodifieddate",
            fields=fields,
        )

    def changed_leads(self, *, since, fields) -> Iterator[list]:
        filters = [{"propertyName": "lifecyclestage", "operator": "EQ", "value": LEAD_STAGE}]
        if since is not None:
            filters.append(
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": _millis(since)}
            )
        return self._search(
            self.client.crm.contacts.search_api,
            ContactSearch,
            filters=filters,
            modified="lastmodifieddate",
            fields=fields,
        )

    # ---------------------------------------------------------------- out

    def _upsert(self, api, batch_class, input_class, records: list[Outgoing]) -> list[PushResult]:
        batch = batch_class(
            inputs=[
                input_class(
                    id_property=self.external_id_field,
                    id=record.key,
                    properties={
                        **{k: ("" if v is None else str(v)) for k, v in record.fields.items()},
                        self.external_id_field: record.key,
                    },
                )
                for record in records
            ]
        )
        try:
            answer = api.upsert(batch_input_simple_public_object_batch_input_upsert=batch)
        except API_ERRORS as exc:
            raise _api_error(exc) from exc
        results: dict[str, PushResult] = {}
        for row in answer.results or []:
            key = (row.properties or {}).get(self.external_id_field)
            if key:
                results[key] = PushResult(
                    key=key, ok=True, external_id=row.id, created=bool(row.new)
                )
        keys = {record.key for record in records}
        for error in getattr(answer, "errors", None) or []:
            context = error.context or {}
            named = {value for values in context.values() for value in values} & keys
            message = f"{error.category}: {error.message}"
            for key in named or keys - set(results):
                results.setdefault(
                    key,
                    PushResult(
                        key=key,
                        ok=False,
                        error=message,
                        retryable=error.category in RETRYABLE_CATEGORIES,
                    ),
                )
        return [
            results.get(record.key)
            or PushResult(
                key=record.key, ok=False, error="HubSpot answered nothing for it.", retryable=True
            )
            for record in records
        ]

    def upsert_partner_accounts(self, records) -> list[PushResult]:
        return self._upsert(
            self.client.crm.companies.batch_api,
            BatchInputSimplePublicObjectBatchInputUpsert,
            SimplePublicObjectBatchInputUpsert,
            records,
        )

    def upsert_opportunities(self, records) -> list[PushResult]:
        return self._upsert(self.client.crm.deals.batch_api, DealsUpsert, DealUpsert, records)
