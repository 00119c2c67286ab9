"""Bad input is refused with a 400 (or 413) that says why, never a 500 (API.md errors): deep
or oversized JSON, text that is not Unicode, numbers out of a column's range, absurd page
sizes; and the portal's forms likewise. See also test_api_hostile_input.py (every
operation) and test_input_bounds.py (every numeric field bounded)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.models import Deal
from partners.models import Account, Notice
from prm.api import MAX_PAGE_SIZE
from prm.parsers import MAX_JSON_DEPTH, has_unencodable_text, json_depth_exceeds
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

BODY = {
    "customer_name": "Umbrella Corp",
    "customer_domain": "umbrella.example",
    "amount": "25000.00",
    "expected_close": (timezone.localdate() + timedelta(days=30)).isoformat(),
    "deal_type": "new_logo",
    "compensation_model": "reseller",
}


def post_json(client, path: str, text: str):
    return client.generic("POST", path, text.encode("utf-8"), content_type="application/json")


# ---------------------------------------------------------------- JSON depth and size


def test_depth_counts_brackets_outside_strings_only():
    assert not json_depth_exceeds("[" * 3 + "]" * 3, 3)
    assert json_depth_exceeds('{"a": [[1]]}', 2)
    assert not json_depth_exceeds('{"a": "[[[[[{{{{"}', 1)
    assert not json_depth_exceeds(r'["\"[[[[", 1]', 1)


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 100_000],
    ids=["arrays", "objects", "unclosed"],
)
def test_json_nested_5000_deep_is_a_400_in_the_error_shape(api, a_rep, text):
    response = post_json(api(a_rep), "/api/v1/deals/", text)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert f"more than {MAX_JSON_DEPTH} levels" in body["detail"]


def test_deep_json_is_refused_on_the_anonymous_token_endpoint_too(client):
    response = post_json(client, "/api/v1/auth/token/", "[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_json_at_the_depth_limit_is_read(api, a_rep, partner_a):
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    text = json.dumps(BODY)[:-1] + f', "notes": "deep", "extra": {nested}}}'
    response = post_json(api(a_rep), "/api/v1/deals/", text)
    assert response.status_code == 201, response.json()


def test_a_json_body_over_the_size_limit_is_a_413(api, a_rep, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    text = json.dumps(BODY | {"notes": "x" * 2048})
    response = post_json(api(a_rep), "/api/v1/deals/", text)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Deal.objects.exists()


def test_the_size_limit_is_set():
    from django.conf import settings

    assert 0 < settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 10 * 1024 * 1024


def test_malformed_json_is_a_400(api, a_rep):
    response = post_json(api(a_rep), "/api/v1/deals/", '{"amount": ')
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    digits = post_json(api(a_rep), "/api/v1/deals/", '{"amount": ' + "9" * 5000 + "}")
    assert digits.status_code == 400


# ---------------------------------------------------------------- text that is not Unicode


def test_unencodable_text_is_found_in_keys_and_values_at_any_depth():
    assert has_unencodable_text({"a": [{"b": "\ud800"}]})
    assert has_unencodable_text({"\udfff": 1})
    assert not has_unencodable_text({"a": ["😀", "plain", 1, None]})


@pytest.mark.parametrize("field", ["deal_type", "compensation_model", "customer_name", "notes"])
def test_a_lone_surrogate_in_any_field_is_a_400(api, a_rep, field):
    text = json.dumps(BODY | {field: "\ud800"})  # the escape \ud800, as a client sends it
    assert "\\ud800" in text
    response = post_json(api(a_rep), "/api/v1/deals/", text)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "not valid Unicode" in response.json()["detail"]
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/conflicts/", {"scenario": "\ud800", "partner": 1}),
        ("/api/v1/leads/", {"company_name": "Acme", "source": "\udc00"}),
        ("/api/v1/partners/", {"name": "N", "domain": "n.example", "status": "\ud800"}),
        ("/api/v1/auth/token/", {"username": "\ud800", "password": "x"}),
    ],
)
def test_a_lone_surrogate_in_a_choice_field_is_a_400(api, manager, path, body):
    response = post_json(api(manager), path, json.dumps(body))
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_escaped_emoji_is_text_like_any_other(api, a_rep, partner_a):
    response = post_json(api(a_rep), "/api/v1/deals/", json.dumps(BODY | {"notes": "ok 😀"}))
    assert response.status_code == 201
    assert Deal.objects.get().notes == "ok 😀"


@pytest.mark.parametrize("value", ["%ED%A0%80", "%00", "%FF%FE"])
def test_broken_text_in_query_parameters_is_never_a_500(api, manager, partner_a, value):
    for path in ("/api/v1/deals/", "/api/v1/partners/", "/api/v1/ledger/", "/api/v1/red-flags/"):
        response = api(manager).get(f"{path}?status={value}&partner={value}")
        assert response.status_code in (200, 400), (path, response.status_code)


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("amount", [10**30, -(10**30), 2**70, 1e30, "1e30", "NaN", "Infinity"])
def test_an_amount_out_of_range_is_a_field_error(api, a_rep, partner_a, amount):
    response = post_json(api(a_rep), "/api/v1/deals/", json.dumps(BODY | {"amount": amount}))
    assert response.status_code == 400
    assert "amount" in response.json() or response.json()["code"] == "parse_error"


def test_an_amount_above_the_programs_maximum_says_so(api, a_rep, partner_a):
    """The column holds 10**18; the program's maximum deal amount is the rule (RULEBOOK §4),
    checked once, in the service, for the API and the portal alike."""
    response = api(a_rep).post("/api/v1/deals/", BODY | {"amount": "1000000000000"}, format="json")
    assert response.status_code == 400
    assert "at most 100,000,000.00" in str(response.json()["amount"])


@pytest.mark.parametrize("field", ["csat", "amount"])
def test_a_win_with_numbers_out_of_range_is_a_400(api, manager, partner_a, field):
    deal = DealFactory(
        partner=partner_a,
        status="approved",
        approved_at=timezone.now(),
        expires_on=timezone.localdate() + timedelta(days=90),
    )
    body = {"amount": "1000.00", "closed_on": timezone.localdate().isoformat()} | {field: 2**70}
    response = api(manager).post(f"/api/v1/deals/{deal.pk}/win/", body, format="json")
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize("entries", [[2**70], [-(10**30)], [10**30]])
def test_ids_out_of_range_are_field_errors(api, finance, a_admin, entries):
    paid = api(finance).post("/api/v1/ledger/pay/", {"entries": entries, "reference": "R1"})
    assert paid.status_code == 400
    claimed = api(a_admin).post("/api/v1/incentive-claims/", {"entries": entries}, format="json")
    assert claimed.status_code == 400


# ---------------------------------------------------------------- page size


def test_a_page_holds_at_most_1000_rows(api, chief):
    Account.objects.bulk_create(
        Account(name=f"Customer {n}", name_key=f"customer {n}", domain_key=f"c{n}.example")
        for n in range(MAX_PAGE_SIZE + 5)
    )
    body = api(chief).get("/api/v1/accounts/?limit=10000000").json()
    assert body["count"] == MAX_PAGE_SIZE + 5
    assert len(body["results"]) == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    "query", [f"limit={10**30}", f"limit={2**70}", "limit=-1", "offset=-1", f"offset={10**30}"]
)
def test_absurd_limits_and_offsets_are_not_errors(api, chief, query):
    response = api(chief).get(f"/api/v1/deals/?{query}")
    assert response.status_code == 200


# ---------------------------------------------------------------- long words kept where they fit


def test_a_long_rejection_reason_is_kept_whole_on_the_deal(api, manager, partner_a):
    deal = DealFactory(partner=partner_a)
    reason = "Not a fit. " * 5000
    response = api(manager).post(f"/api/v1/deals/{deal.pk}/reject/", {"reason": reason})
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.reason_note == reason.strip()
    summary = deal.history.latest().history_change_reason
    assert len(summary) == 100 and summary.endswith("…")
    notice = Notice.objects.get(partner=partner_a)
    assert len(notice.text) == Notice._meta.get_field("text").max_length


# ---------------------------------------------------------------- the portal's forms


@pytest.mark.parametrize(
    "change",
    [
        {"amount": str(10**30)},
        {"amount": "-1e30"},
        {"amount": "NaN"},
        {"contract_years": str(2**70)},
        {"customer_name": "\x00"},
        {"notes": "x" * 100_000},
    ],
)
def test_the_registration_form_refuses_hostile_values(client, a_rep, partner_a, change):
    client.force_login(a_rep)
    data = BODY | {"contract_years": "1"} | change
    response = client.post("/portal/deals/new/", data)
    assert response.status_code in (302, 400)
    if "notes" not in change:
        assert response.status_code == 400 and not Deal.objects.exists()


def test_a_portal_amount_above_the_programs_maximum_says_so(client, a_rep, partner_a):
    client.force_login(a_rep)
    response = client.post(
        "/portal/deals/new/", BODY | {"contract_years": "1", "amount": "999999999999"}
    )
    assert response.status_code == 400
    assert "at most 100,000,000.00" in response.content.decode()


def test_broken_text_in_a_portal_form_is_a_form_error(client, a_rep, partner_a):
    client.force_login(a_rep)
    body = "customer_name=%ED%A0%80&deal_type=%ED%A0%80&amount=%00&expected_close=%FF"
    response = client.post(
        "/portal/deals/new/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("amount", [str(10**30), "1e30"])
def test_mdf_forms_refuse_numbers_out_of_range(client, a_admin, partner_a, amount):
    client.force_login(a_admin)
    today = timezone.localdate()
    response = client.post(
        "/portal/mdf/requests/new/",
        {
            "activity_type": "webinar",
            "title": "Launch",
            "planned_cost": amount,
            "starts_on": (today + timedelta(days=7)).isoformat(),
            "ends_on": (today + timedelta(days=7)).isoformat(),
            "expected_leads": str(2**70),
        },
    )
    assert response.status_code in (200, 400)
    assert "planned_cost" in response.context["form"].errors


def test_decimal_precision_comes_from_the_column():
    from deals.api import DealCreateSerializer
    from deals.forms import RegistrationForm

    column = Deal._meta.get_field("amount")
    assert DealCreateSerializer().fields["amount"].max_digits == column.max_digits
    assert RegistrationForm.base_fields["amount"].max_digits == column.max_digits
    assert RegistrationForm.base_fields["amount"].min_value == Decimal("0.01")


PORTAL_PARAMETERS = (
    "page",
    "status",
    "kind",
    "partner",
    "tier",
    "quarter",
    "manager",
    "region",
    "customer_name",
    "customer_domain",
    "format",
)


@pytest.mark.parametrize(
    "value", ["%00", "%ED%A0%80", str(10**30), str(2**70), "-1", "1e30", "x" * 10_000]
)
def test_portal_pages_take_any_query_parameter_without_a_500(
    client, a_admin, manager, executive, partner_a, value
):
    query = "&".join(f"{name}={value}" for name in PORTAL_PARAMETERS)
    pages = {
        a_admin: [
            "/portal/deals/",
            "/portal/deals/check/",
            "/portal/earnings/",
            "/portal/claims/",
            "/portal/mdf/",
            "/portal/contributions/",
            "/portal/scorecards/",
            "/portal/qbrs/",
            "/portal/plan/",
        ],
        manager: ["/manager/", "/portal/scorecards/", "/admin/deals/deal/"],
        executive: ["/executive/", "/portal/qbrs/"],
    }
    for user, paths in pages.items():
        client.force_login(user)
        for path in paths:
            response = client.get(f"{path}?{query}")
            assert response.status_code < 500, (user.username, path, response.status_code)


def test_a_nul_in_a_query_string_is_a_400_before_any_view(api, client, manager, a_admin):
    response = api(manager).get("/api/v1/deals/?customer=a%00b")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    client.force_login(a_admin)
    assert client.get("/portal/deals/?status=%00").status_code == 400


def test_a_page_number_past_any_list_is_an_empty_page(client, a_admin, partner_a):
    DealFactory(partner=partner_a)
    client.force_login(a_admin)
    response = client.get(f"/portal/deals/?page={10**30}")
    assert response.status_code == 200
    assert list(response.context["page"]) == []


@pytest.mark.parametrize("text", ["[]", '["request", "files"]', "42", '"claim"', "null"])
def test_an_mdf_claim_sent_as_json_that_is_no_object_is_a_400(api, a_admin, text):
    answer = post_json(api(a_admin), "/api/v1/mdf/claims/", text)
    assert answer.status_code == 400, answer.content
    assert "form or a JSON object" in answer.content.decode() or "request" in answer.json()
