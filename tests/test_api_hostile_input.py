"""Hostile input against every operation of the API schema, as every role: no answer is a
server error (API.md: "never a 500 for bad input").

Deterministic and fast, beside the generated cases of ``test_api_fuzz.py``. For each
operation the schema describes:

- a request body 5,000 levels deep (arrays, then objects);
- every string field of a plausible body at once as a lone surrogate, as a NUL character,
  and as a 100,000-character string;
- each number field of a plausible body in turn as 10**30, -10**30, 2**70 and 1e30;
- every query parameter at once as an invalid UTF-8 sequence (a surrogate's bytes), a NUL,
  huge and negative numbers and a 100,000-character string; ``limit`` and ``offset``
  apart, since a filter that refuses its input answers before the page is cut.

Each request runs in a savepoint that is rolled back, so every one meets the same data.
"""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from partners.models import ApiToken, PartnerRole
from prm.quarters import Quarter
from prm.roles import Role
from tests.factories import (
    AccountFactory,
    CertificationFactory,
    ConflictCaseFactory,
    DealFactory,
    LeadFactory,
    LedgerEntryFactory,
    MdfRequestFactory,
    PartnerFactory,
    PartnerUserFactory,
    RedFlagFactory,
    ScorecardFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS = SCHEMA["components"]["schemas"]
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]

DEPTH = 5000
LONG = "x" * 100_000
SURROGATE = "\ud800"
HUGE_NUMBERS = [10**30, -(10**30), 2**70, 1e30]
# Raw query-string values: a lone surrogate's UTF-8 bytes (invalid UTF-8), a NUL, numbers
# out of every column's range, a negative, and a very long value.
QUERY_VALUES = [
    "%ED%A0%80",
    "%00",
    str(10**30),
    str(-(10**30)),
    str(2**70),
    "-1",
    "1e30",
    "x" * 100_000,
]
PAGE_VALUES = [str(10**30), str(2**70), "-1", "10000000", "%ED%A0%80", "1e30", "x"]
ROLES = ["anonymous", "partner_admin", "partner_rep", "manager", "chief", "executive", "finance"]


def _resolve(schema: dict) -> dict:
    """The concrete schema of a property: follows ``$ref`` and takes the first typed
    alternative of ``allOf``/``oneOf``/``anyOf``."""
    if "$ref" in schema:
        return _resolve(COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]])
    for key in ("allOf", "oneOf", "anyOf"):
        for option in schema.get(key, []):
            resolved = _resolve(option)
            if resolved.get("type") or resolved.get("enum"):
                return resolved
    return schema


def _plausible(schema: dict):
    schema = _resolve(schema)
    if schema.get("enum"):
        return next(value for value in schema["enum"] if value not in (None, ""))
    kind, form = schema.get("type"), schema.get("format")
    today = timezone.localdate()
    if kind == "integer":
        return 1
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return {
        "date": (today + timedelta(days=7)).isoformat(),
        "date-time": timezone.now().isoformat(),
        "email": "someone@example.com",
        "uri": "https://example.com/",
        "decimal": "10.00",
    }.get(form, "plausible")


def _body_fields(operation: dict) -> tuple[dict, list[str], list[str]]:
    """A plausible JSON body, its string fields and its number fields (decimals are
    strings in the schema, but numbers to the server)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json") or content.get("multipart/form-data")
    if not schema:
        return {}, [], []
    properties = _resolve(schema["schema"]).get("properties", {})
    body, strings, numbers = {}, [], []
    for name, prop in properties.items():
        if prop.get("readOnly"):
            continue
        resolved = _resolve(prop)
        body[name] = _plausible(prop)
        if resolved.get("type") in ("integer", "number") or resolved.get("format") == "decimal":
            numbers.append(name)
        elif resolved.get("type") == "string":
            strings.append(name)
    return body, strings, numbers


@pytest.fixture
def people(db) -> dict:
    """A login of each role, with data behind them: a partner of the manager's with
    deals, money, MDF, conflicts, flags and a scorecard."""
    partner = PartnerFactory(tier=default_tier("silver"))
    manager = StaffFactory(role=Role.CHANNEL_MANAGER)
    partner.channel_manager = manager
    partner.save(update_fields=["channel_manager"])
    users = {
        "partner_admin": PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN).user,
        "partner_rep": PartnerUserFactory(partner=partner, role=PartnerRole.REP).user,
        "manager": manager,
        "chief": StaffFactory(role=Role.CHANNEL_CHIEF),
        "executive": StaffFactory(role=Role.EXECUTIVE),
        "finance": StaffFactory(role=Role.FINANCE),
    }
    DealFactory(partner=partner)
    WonDealFactory(partner=partner)
    ConflictCaseFactory(partner=partner)
    LedgerEntryFactory(partner=partner)
    MdfRequestFactory(fund__partner=partner)
    RedFlagFactory(partner=partner)
    ScorecardFactory(partner=partner)
    CertificationFactory(partner=partner)
    AccountFactory(owning_partner=partner)
    LeadFactory(partner=partner)
    return {"partner": partner, **users}


def _client(people: dict, role: str) -> Client:
    client = Client(raise_request_exception=False)
    if role != "anonymous":
        key = ApiToken.objects.create(user=people[role])[1]
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


def _path(client: Client, people: dict, path: str) -> str:
    """The path with real ids the role may see where there are any."""
    path = path.replace("{partner_pk}", str(people["partner"].pk))
    if "{quarter}" in path:
        path = path.replace("{quarter}", Quarter.containing(timezone.localdate()).previous().label)
    if "{id}" in path:
        listing = client.get(path.split("{id}")[0])
        rows = listing.json().get("results", []) if listing.status_code == 200 else []
        path = path.replace("{id}", str(rows[0]["id"]) if rows and "id" in rows[0] else "1")
    return path


def _requests(method: str, operation: dict):
    """(label, query string, JSON body text or None) for each hostile request."""
    parameters = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    filters = [name for name in parameters if name not in ("limit", "offset")]
    if filters:
        for value in QUERY_VALUES:
            yield f"query={value[:12]}", "&".join(f"{name}={value}" for name in filters), None
    for name in ("limit", "offset"):
        if name in parameters:
            for value in PAGE_VALUES:
                yield f"{name}={value[:12]}", f"{name}={value}", None
    if method == "GET" or "requestBody" not in operation:
        return
    yield "deep arrays", "", "[" * DEPTH + "]" * DEPTH
    yield "deep objects", "", '{"a":' * DEPTH + "1" + "}" * DEPTH
    body, strings, numbers = _body_fields(operation)
    for label, value in (("surrogate", SURROGATE), ("NUL", "\x00"), ("100k chars", LONG)):
        if strings:
            yield f"strings={label}", "", json.dumps(body | dict.fromkeys(strings, value))
    for name in numbers:
        for number in HUGE_NUMBERS:
            yield f"{name}={number}", "", json.dumps(body | {name: number})


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_no_hostile_input_gets_a_server_error(role, people):
    client = _client(people, role)
    failures = []
    sent = 0
    for method, template, operation in OPERATIONS:
        path = _path(client, people, template)
        for label, query, body in _requests(method, operation):
            url = f"{path}?{query}" if query else path
            savepoint = transaction.savepoint()
            try:
                response = client.generic(
                    method,
                    url,
                    data=(body or "").encode("utf-8", "surrogatepass"),
                    content_type="application/json",
                )
            finally:
                transaction.savepoint_rollback(savepoint)
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{method} {template} [{label}] → {response.status_code}")
    assert sent > 100
    assert failures == [], "\n".join(failures)
