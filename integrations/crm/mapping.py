"""Field mappings as pure functions: local facts → CRM fields (out), CRM fields → the
values ``partners``' services take (in). No ORM, no clock, no I/O.

The defaults below are installed as ``FieldMapping`` rows by migration ``0003_crm``; the
admin changes them per CRM and object type.
"""

import hashlib
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_date, parse_datetime

# The local facts each object type offers (out) or takes (in).
LOCAL_FIELDS = {
    "account": ["name", "domain", "direct_rep"],
    # The routing facts (RULEBOOK §11) have no default mapping: a CRM holds them in fields
    # of its own, which a person maps in the admin.
    "lead": [
        "company_name",
        "domain",
        "source",
        "created_at",
        "country",
        "region",
        "specialty",
        "language",
    ],
    "partner": ["name", "domain", "tier", "status", "region", "partner_type"],
    "deal": [
        "customer_name",
        "customer_domain",
        "amount",
        "currency",
        "status",
        "stage",
        "reason",
        "submitted_at",
        "approved_at",
        "expires_on",
        "close_date",
        "closed_on",
        "closed_amount",
        "partner_credit",
        "partner_key",
        "partner_id",
        "partner_name",
        "pipeline",
    ],
}
MONEY = {"amount", "closed_amount", "partner_credit"}

DEFAULT_MAPPINGS = {
    "salesforce": {
        "account": {"Name": "name", "Website": "domain", "Owner.Email": "direct_rep"},
        "lead": {
            "Company": "company_name",
            "Website": "domain",
            "LeadSource": "source",
            "CreatedDate": "created_at",
        },
        "partner": {
            "Name": "name",
            "Website": "domain",
            "Type": "partner_type",
            "PRM_Tier__c": "tier",
            "PRM_Partner_Status__c": "status",
        },
        "deal": {
            "Name": "customer_name",
            "Amount": "amount",
            "StageName": "stage",
            "CloseDate": "close_date",
            "Partner_Account__r.PRM_Id__c": "partner_key",
            "PRM_Registration_Status__c": "status",
            "PRM_Status_Reason__c": "reason",
            "PRM_Customer_Domain__c": "customer_domain",
            "PRM_Partner_Credit__c": "partner_credit",
        },
    },
    "hubspot": {
        "account": {"name": "name", "domain": "domain", "owner_email": "direct_rep"},
        "lead": {
            "company": "company_name",
            "website": "domain",
            "hs_analytics_source": "source",
            "createdate": "created_at",
        },
        "partner": {
            "name": "name",
            "domain": "domain",
            "type": "partner_type",
            "prm_tier": "tier",
            "prm_partner_status": "status",
        },
        "deal": {
            "dealname": "customer_name",
            "amount": "amount",
            "dealstage": "stage",
            "closedate": "close_date",
            "pipeline": "pipeline",
            "prm_partner_id": "partner_key",
            "prm_partner_name": "partner_name",
            "prm_registration_status": "status",
            "prm_status_reason": "reason",
            "prm_customer_domain": "customer_domain",
            "prm_partner_credit": "partner_credit",
        },
    },
}


def record_key(object_type: str, local_id: int) -> str:
    """The PRM's key of a pushed record, in the CRM's external-id field."""
    return f"{object_type}-{local_id}"


def payload_hash(fields: dict) -> str:
    text = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value):
    """A value as the CRM's JSON takes it: money as a number (a float represents every
    amount of 14 digits with 2 decimals exactly in JSON's shortest form), dates as ISO."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(value):
    if value in (None, ""):
        return None
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def deal_facts(facts: dict, *, stages: dict[str, str]) -> dict:
    """The facts of a registration (the ``deal.*`` events' data merged) with what the
    CRM needs besides: the stage of its status, a close date (the close, else the end of
    its protection, else its submission), the partner's key."""
    derived = dict(facts)
    status = facts.get("status") or ""
    derived["stage"] = stages.get(status, "")
    close = facts.get("closed_on") or facts.get("expires_on") or facts.get("submitted_at")
    if isinstance(close, str):
        close = (parse_datetime(close) or parse_date(close[:10])) if close else None
    if isinstance(close, datetime):
        close = close.date()
    derived["close_date"] = close
    if facts.get("partner_id"):
        derived["partner_key"] = record_key("partner", facts["partner_id"])
    derived.setdefault("pipeline", "default")
    if status == "won" and facts.get("closed_amount") not in (None, ""):
        derived["amount"] = facts["closed_amount"]
    return derived


def outbound_fields(facts: dict, mappings: list[tuple[str, str]]) -> dict:
    """CRM field → value for each ``(crm_field, local_field)`` mapping."""
    fields = {}
    for crm_field, local_field in mappings:
        value = facts.get(local_field)
        fields[crm_field] = _money(value) if local_field in MONEY else _plain(value)
    return fields


LEAD_SOURCES = [
    (re.compile(r"partner"), "partner"),
    (re.compile(r"referr"), "referral"),
    (re.compile(r"webinar"), "webinar"),
    (re.compile(r"event|trade ?show|seminar|conference|offline"), "event"),
    (re.compile(r"outbound|purchased|list|cold|paid"), "outbound"),
    (re.compile(r"web|inbound|phone|organic|direct|search|email|social"), "inbound"),
]


def lead_source(value) -> str:
    """A CRM's lead source (Salesforce ``Web``, ``Partner Referral``; HubSpot
    ``ORGANIC_SEARCH``, ``OFFLINE``) as one of the PRM's."""
    text = str(value or "").lower().replace("_", " ")
    for pattern, source in LEAD_SOURCES:
        if pattern.search(text):
            return source
    return "other"


def crm_datetime(value) -> datetime | None:
    """A CRM timestamp: ISO 8601 (``2026-11-02T10:15:00.000+0000``, ``…Z``) or
    milliseconds since the epoch."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = parse_datetime(text)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def inbound_values(object_type: str, fields: dict, mappings: list[tuple[str, str]]) -> dict:
    """The values for ``partners``' services from a pulled record's CRM fields."""
    values = {}
    for crm_field, local_field in mappings:
        value = fields.get(crm_field)
        if local_field == "source":
            value = lead_source(value)
        elif local_field == "created_at":
            value = crm_datetime(value)
        elif local_field == "direct_rep":
            value = str(value or "").strip().lower()
        elif local_field == "country":
            value = str(value or "").strip().upper()
        elif local_field in ("region", "specialty"):
            value = str(value or "").strip().lower()
        elif local_field == "language":
            # A locale (``pt-BR``, ``en_US``) routes by its language.
            value = re.split(r"[-_]", str(value or "").strip().lower())[0]
        else:
            value = "" if value is None else str(value).strip()
        values[local_field] = value
    return values
