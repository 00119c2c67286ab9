"""Schemathesis against the OpenAPI schema, in process: every operation, as each role (partner
admin, partner rep, channel manager, channel chief, executive, finance), with a few
generated requests each (CI's time budget). No answer may be a server error, and every
documented answer must match its schema.

Besides what the schema allows, each generated case may be turned hostile: its strings
made lone surrogates, NULs or 100,000 characters long, its numbers 10**30, -10**30, 2**70
or ±1e30, its body 5,000 levels deep, its query parameters and ids out of every range.
``test_api_hostile_input.py`` sends such values to every field deterministically.
"""

import re

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from partners.models import ApiToken, PartnerRole
from prm.roles import Role
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory, default_tier

APP = get_wsgi_application()
SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
EXAMPLES = 3

SURROGATE = "\ud800"
LONG = "x" * 100_000
NUMBERS = [10**30, -(10**30), 2**70, 1e30, -1e30]
DEEP = b"[" * 5000 + b"]" * 5000
NUMERIC = re.compile(r"-?\d+(\.\d+)?")


def _each_string(value, replace):
    if isinstance(value, dict):
        return {key: _each_string(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_each_string(item, replace) for item in value]
    if isinstance(value, str) and not NUMERIC.fullmatch(value):
        return replace
    return value


def _each_number(value, replace):
    """Numbers, and decimals (strings in the schema), become ``replace``."""
    if isinstance(value, dict):
        return {key: _each_number(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_each_number(item, replace) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and NUMERIC.fullmatch(value)):
        return replace
    return value


def _is_json(case) -> bool:
    return bool(case.media_type) and "json" in case.media_type


def _strings(replace):
    def mutate(case):
        if _is_json(case) and isinstance(case.body, dict | list):
            case.body = _each_string(case.body, replace)
        return case

    return mutate


def _numbers(replace):
    def mutate(case):
        if _is_json(case) and isinstance(case.body, dict | list):
            case.body = _each_number(case.body, replace)
        if case.query:
            case.query = _each_number(case.query, str(replace))
        if case.path_parameters:
            case.path_parameters = {
                name: int(replace) if isinstance(value, int) else value
                for name, value in case.path_parameters.items()
            }
        return case

    return mutate


def _deep(case):
    if _is_json(case) and case.body is not None and not isinstance(case.body, bytes):
        case.body = DEEP
    return case


def _hostile_query(case):
    if case.query:
        case.query = {name: LONG if i % 2 else "\x00" for i, name in enumerate(case.query)}
        for page in ("limit", "offset"):
            if page in case.query:
                case.query[page] = str(10**30) if page == "limit" else "-1"
    return case


MUTATIONS = [
    lambda case: case,
    _strings(SURROGATE),
    _strings(LONG),
    _strings("a\x00b"),
    *(_numbers(number) for number in NUMBERS),
    _deep,
    _hostile_query,
]


@SCHEMA.hook
def flatmap_case(context, case):
    """Keep the generated case or turn it hostile in one of the ways above."""
    return st.sampled_from(MUTATIONS).map(lambda mutate: mutate(case))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: requests served in process must not close the test's
    database connection (it holds the test's transaction)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def logins(db) -> dict[str, dict]:
    """A login of each role, with data behind it, as Authorization headers."""
    partner = PartnerFactory(tier=default_tier("silver"))
    people = {
        "partner admin": PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN).user,
        "partner rep": PartnerUserFactory(partner=partner, role=PartnerRole.REP).user,
        "manager": StaffFactory(role=Role.CHANNEL_MANAGER),
        "chief": StaffFactory(role=Role.CHANNEL_CHIEF),
        "executive": StaffFactory(role=Role.EXECUTIVE),
        "finance": StaffFactory(role=Role.FINANCE),
    }
    partner.channel_manager = people["manager"]
    partner.save(update_fields=["channel_manager"])
    return {
        role: {"Authorization": f"Token {ApiToken.objects.create(user=user)[1]}"}
        for role, user in people.items()
    }


@pytest.mark.django_db
@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
    # Generated cases only: the schema's explicit examples (hundreds, mostly alike) would
    # take most of the time for little.
    phases=[Phase.generate],
)
def test_no_server_error_and_answers_match_the_schema(case, logins):
    for headers in logins.values():
        case.call_and_validate(
            app=APP, headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )
