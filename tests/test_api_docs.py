"""The API docs (/api/docs/, /api/schema/): every operation sits under its resource's tag
with a summary, and the docs page leads back to the app."""

import pytest
from django.conf import settings
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

METHODS = {"get", "post", "put", "patch", "delete"}
TAG_NAMES = [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary(schema):
    missing = [name for name, op in operations(schema) if not (op.get("summary") or "").strip()]
    assert missing == [], "add the action to prm.api_schema.ACTIONS, or extend_schema(summary=…)"


def test_every_operation_sits_under_one_resource_tag(schema):
    wrong = [
        (name, op.get("tags"))
        for name, op in operations(schema)
        if len(op.get("tags") or []) != 1 or op["tags"][0] not in TAG_NAMES
    ]
    assert wrong == [], "add the resource to prm.api_schema.RESOURCES (and its tag to TAGS)"
    assert "v1" not in TAG_NAMES and "api" not in TAG_NAMES


def test_no_tag_holds_most_of_the_api_and_each_tag_is_used(schema):
    counts = dict.fromkeys(TAG_NAMES, 0)
    for _, op in operations(schema):
        counts[op["tags"][0]] += 1
    total = sum(counts.values())
    assert max(counts.values()) < total / 4, counts
    assert all(counts.values()), counts


def test_summaries_name_their_resource(schema):
    ops = dict(operations(schema))
    assert ops["GET /api/v1/deals/"]["summary"] == "List deal registrations"
    assert ops["POST /api/v1/deals/{id}/approve/"]["summary"] == "Approve a deal registration"
    assert ops["POST /api/v1/auth/token/"]["summary"] == "Sign in: get an API token"
    assert ops["GET /api/v1/qbrs/"]["tags"] == ["reviews"]


def test_the_qbr_list_documents_its_overdue_filter(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/qbrs/"]["get"]["parameters"]}
    assert {"overdue", "partner", "quarter", "status"} <= params


@pytest.mark.django_db
def test_the_docs_page_leads_back_to_the_app(client, a_rep):
    client.force_login(a_rep)
    page = client.get(reverse("api-docs")).content.decode()
    assert f'href="{reverse("home")}" data-testid="back-to-app">Back to the app<' in page
    zh = client.get(reverse("api-docs"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "返回应用" in zh
