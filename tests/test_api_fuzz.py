"""Schemathesis against the OpenAPI schema, in process: every operation, as a partner admin,
a channel manager and an executive, with a few generated requests each (CI's time budget).
No answer may be a server error, and every documented answer must match its schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from partners.models import ApiToken
from prm.roles import Role
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory, default_tier

APP = get_wsgi_application()
SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
EXAMPLES = 2


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
        "partner": PartnerUserFactory(partner=partner, role="admin").user,
        "manager": StaffFactory(role=Role.CHANNEL_MANAGER),
        "executive": StaffFactory(role=Role.EXECUTIVE),
    }
    PartnerFactory(channel_manager=people["manager"])
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
)
def test_no_server_error_and_answers_match_the_schema(case, logins):
    for headers in logins.values():
        case.call_and_validate(
            app=APP, headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )
