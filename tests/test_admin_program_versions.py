"""The admin's program versions: a chief copies the live program to a draft, edits a
number, runs the what-if on the last closed quarter and publishes; other roles are
refused; bad numbers answer 400 with the reason."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from deals.services import deal_accrue_incentives
from partners.models import Program, ProgramVersion, Tier
from scoring.services.close import quarter_close
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

LIST = "/admin/partners/programversion/"
COPY = "/admin/partners/programversion/copy/"


@pytest.fixture
def closed(db):
    """2026Q2 closed: a silver partner with $150,000 of trailing revenue and two reps."""
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        partner = PartnerFactory(
            name="Near Gold", tier=default_tier("silver"), started_on=date(2024, 1, 1)
        )
        for _ in range(2):
            CertificationFactory(
                partner=partner,
                user=PartnerUserFactory(partner=partner).user,
                issued_on=date(2025, 1, 1),
            )
        # The win earns its SPIFFs as every win does.
        deal_accrue_incentives(
            WonDealFactory(
                partner=partner, partner_credit=Decimal("150000"), closed_on=date(2026, 5, 1)
            )
        )
        ScorecardFactory(partner=partner, quarter="2026Q1", qualified_tier=default_tier("gold"))
        for number in range(4):
            PartnerFactory(
                name=f"Other {number}", tier=default_tier("registered"), started_on=date(2024, 1, 1)
            )
        quarter_close(quarter="2026Q2")
    yield


def _program():
    return Program.objects.get(is_default=True)


def _form_data(version: ProgramVersion, **changes) -> dict:
    rules = version.rules
    data = {"note": version.note}
    for section in ("scoring", "tier_rules", "awards", "incentives"):
        for name, value in rules[section].items():
            data[f"{section}__{name}"] = value
    for pk, tier in rules["tiers"].items():
        for name, value in tier.items():
            data[f"tier_{pk}__{name}"] = value
    for index, (start, rate, fast) in enumerate(rules["rebate_brackets"]):
        data[f"bracket_{index}__from"] = start
        data[f"bracket_{index}__rate"] = rate
        if fast:
            data[f"bracket_{index}__fast"] = "on"
    data.update(changes)
    return data


def _copy(client) -> ProgramVersion:
    response = client.post(COPY, {"program": _program().pk})
    assert response.status_code == 302
    return ProgramVersion.objects.get(status="draft")


def test_a_chief_copies_tries_and_publishes_a_draft(client, chief, closed):
    client.force_login(chief)
    assert client.get(LIST).status_code == 200
    draft = _copy(client)
    page = client.get(f"{LIST}{draft.pk}/change/")
    assert page.status_code == 200
    assert b"Run what-if" in page.content
    gold = Tier.objects.get(program=_program(), slug="gold")
    data = _form_data(draft, action="what_if", **{f"tier_{gold.pk}__revenue_floor": "120000"})
    with time_machine.travel(datetime(2026, 7, 20, 9, 0, tzinfo=UTC), tick=False):
        tried = client.post(f"{LIST}{draft.pk}/change/", data)
    assert tried.status_code == 200
    assert tried.context["result"].movers == 1
    assert tried.context["shown"][0].partner == "Near Gold"
    assert b"Silver" in tried.content and b"Gold" in tried.content
    draft.refresh_from_db()
    assert Decimal(draft.rules["tiers"][str(gold.pk)]["revenue_floor"]) == 120000
    gold.refresh_from_db()
    assert gold.revenue_floor == Decimal("200000")  # the live program is untouched

    with time_machine.travel(datetime(2026, 7, 20, 9, 0, tzinfo=UTC), tick=False):
        refused = client.post(
            f"{LIST}{draft.pk}/change/",
            _form_data(draft, action="publish", effective_from="2026Q2"),
        )
        assert refused.status_code == 400
        assert "2026Q2" in refused.content.decode()
        published = client.post(
            f"{LIST}{draft.pk}/change/",
            _form_data(draft, action="publish", effective_from="2026q4"),
        )
    assert published.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.effective_from, draft.published_by) == (
        "published",
        "2026Q4",
        chief,
    )
    again = client.post(f"{LIST}{draft.pk}/change/", _form_data(draft, action="save"))
    assert again.status_code == 400  # a published version is not changed


def test_a_draft_edits_spiff_amounts_and_the_what_if_shows_them(client, chief, closed):
    client.force_login(chief)
    draft = _copy(client)
    page = client.get(f"{LIST}{draft.pk}/change/")
    assert b"First-deal SPIFF" in page.content
    data = _form_data(draft, action="what_if", incentives__spiff_first_deal="1600")
    with time_machine.travel(datetime(2026, 7, 20, 9, 0, tzinfo=UTC), tick=False):
        tried = client.post(f"{LIST}{draft.pk}/change/", data)
    assert tried.status_code == 200
    totals = tried.context["totals"]
    # Near Gold's win was its first: $1,000 as decided, $1,600 under the draft.
    assert (totals["incentives_actual"], totals["incentives_draft"]) == (
        Decimal("1000.00"),
        Decimal("1600.00"),
    )
    assert totals["payout_difference"] == Decimal("600.00")
    assert 'data-testid="incentives-draft"' in tried.content.decode()
    draft.refresh_from_db()
    assert Decimal(draft.rules["incentives"]["spiff_first_deal"]) == 1600
    assert _program().spiff_first_deal == Decimal("1000")


@pytest.mark.parametrize(
    "field,value",
    [
        ("scoring__revenue_points", "many"),
        ("scoring__revenue_points", "-5"),
        ("scoring__revenue_points", "95"),  # the points add up to over 100
        ("scoring__pipeline_target", "2.5"),
        ("scoring__band_grow_from", "1e999"),
    ],
)
def test_bad_numbers_answer_400_with_the_reason(client, chief, closed, field, value):
    client.force_login(chief)
    draft = _copy(client)
    response = client.post(
        f"{LIST}{draft.pk}/change/", _form_data(draft, action="save", **{field: value})
    )
    assert response.status_code == 400
    assert b"errornote" in response.content or b"errorlist" in response.content
    draft.refresh_from_db()
    assert draft.rules["scoring"]["revenue_points"] == "30.00"


def test_unknown_action_and_missing_version_are_refused(client, chief, closed):
    client.force_login(chief)
    draft = _copy(client)
    assert (
        client.post(f"{LIST}{draft.pk}/change/", _form_data(draft, action="x")).status_code == 400
    )
    assert client.get(f"{LIST}999999/change/").status_code == 404
    assert client.get(f"{LIST}abc/change/").status_code in (302, 404)
    assert client.post(COPY, {"program": "nope"}).status_code == 400


@pytest.mark.parametrize("role", ["manager", "executive", "finance", "a_admin"])
def test_other_roles_are_refused(client, request, closed, role):
    user = request.getfixturevalue(role)
    user = getattr(user, "user", user)
    client.force_login(user)
    draft = ProgramVersion.objects.create(
        program=_program(), number=99, rules=ProgramVersion.objects.first().rules
    )
    for url in (LIST, f"{LIST}{draft.pk}/change/"):
        assert client.get(url).status_code in (302, 403)
    assert client.post(COPY, {"program": _program().pk}).status_code in (302, 403)
    assert client.post(
        f"{LIST}{draft.pk}/change/", _form_data(draft, action="save")
    ).status_code in (
        302,
        403,
    )
    assert ProgramVersion.objects.filter(status="draft").count() == 1


def test_the_what_if_page_reads_a_fixed_number_of_queries(
    client, chief, closed, django_assert_max_num_queries
):
    client.force_login(chief)
    draft = _copy(client)
    data = _form_data(draft, action="what_if")
    with time_machine.travel(datetime(2026, 7, 20, 9, 0, tzinfo=UTC), tick=False):
        with django_assert_max_num_queries(20) as few:
            client.post(f"{LIST}{draft.pk}/change/", data)
        for number in range(10):
            PartnerFactory(
                name=f"Late {number}", tier=default_tier("registered"), started_on=date(2024, 1, 1)
            )
        # More partners scored: the same number of queries.
        quarter_close(quarter="2026Q2")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.post(f"{LIST}{draft.pk}/change/", data)
    assert len(response.context["result"].rows) == 15
