"""``/scorecards/``, ``/red-flags/`` and ``/quarters/{q}/close/`` (API.md)."""

import pytest

from scoring.models import QuarterClose
from tests.factories import PartnerFactory, RedFlagFactory, ScorecardFactory

pytestmark = pytest.mark.django_db


def test_scorecards_are_scoped_and_have_the_listed_fields(
    api, a_rep, manager, partner_a, partner_b
):
    ScorecardFactory(partner=partner_a, quarter="2026Q2")
    ScorecardFactory(partner=partner_b, quarter="2026Q2")
    rows = api(a_rep).get("/api/v1/scorecards/").json()["results"]
    assert [r["partner"] for r in rows] == [partner_a.pk]
    assert {
        "quarter",
        "total",
        "band",
        "revenue",
        "pipeline",
        "certification",
        "satisfaction",
        "engagement",
        "inputs",
    } <= set(rows[0])
    filtered = api(manager).get(f"/api/v1/scorecards/?partner={partner_a.pk}&quarter=2026Q2")
    assert filtered.json()["count"] == 1


def test_red_flags_filter_by_partner_and_status(api, chief, partner_a, partner_b):
    RedFlagFactory(partner=partner_a)
    RedFlagFactory(partner=partner_b, status="resolved")
    client = api(chief)
    assert client.get(f"/api/v1/red-flags/?partner={partner_a.pk}").json()["count"] == 1
    open_flags = client.get("/api/v1/red-flags/?status=open").json()["results"]
    assert [(f["partner"], f["kind"], f["status"]) for f in open_flags] == [
        (partner_a.pk, "no_recent_deal", "open")
    ]
    assert "opened_at" in open_flags[0]


def test_closing_a_quarter_is_queued_with_a_job_id(api, chief):
    response = api(chief).post("/api/v1/quarters/2026Q2/close/")
    assert response.status_code == 202
    data = response.json()
    assert (data["quarter"], data["state"]) == ("2026Q2", "queued")
    assert data["job"] == QuarterClose.objects.get(quarter="2026Q2").pk
    state = api(chief).get("/api/v1/quarters/2026Q2/")
    assert state.status_code == 200
    assert state.json()["state"] == "queued"


def test_a_quarter_not_ended_is_409(api, chief):
    response = api(chief).post("/api/v1/quarters/2099Q1/close/")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "2099" in response.json()["detail"]


def test_only_the_chief_or_an_admin_closes(api, manager, executive, a_admin):
    for user in (manager, executive, a_admin):
        assert api(user).post("/api/v1/quarters/2026Q2/close/").status_code == 403
    assert api(a_admin).get("/api/v1/quarters/2026Q2/").status_code == 403
    assert not QuarterClose.objects.exists()


def test_bad_quarter_label_is_404(api, chief):
    assert api(chief).post("/api/v1/quarters/2026Q5/close/").status_code == 404


def test_lists_have_flat_query_counts(api, chief, django_assert_max_num_queries):
    for _ in range(3):
        partner = PartnerFactory()
        ScorecardFactory(partner=partner)
        RedFlagFactory(partner=partner)
    with django_assert_max_num_queries(4):
        api(chief).get("/api/v1/scorecards/")
    for _ in range(30):
        partner = PartnerFactory()
        ScorecardFactory(partner=partner)
        RedFlagFactory(partner=partner)
    with django_assert_max_num_queries(4):
        assert api(chief).get("/api/v1/scorecards/?limit=100").json()["count"] == 33
    with django_assert_max_num_queries(4):
        assert api(chief).get("/api/v1/red-flags/?limit=100").json()["count"] == 33


def test_portal_scorecard_page_explains_each_dimension(
    client, a_rep, manager, partner_a, partner_b
):
    ScorecardFactory(
        partner=partner_a,
        quarter="2026Q2",
        inputs={
            "quarter_revenue": "10000",
            "quarterly_quota": "50000",
            "approved_registrations": 2,
            "pipeline_target": 5,
            "certified_reps": 0,
            "reps_required": 1,
            "csat_responses": 0,
            "csat_average": None,
            "login_days": 3,
            "trainings": 0,
            "events": 1,
        },
    )
    client.force_login(a_rep)
    page = client.get("/portal/scorecards/").content.decode()
    assert "Close $40,000 more" in page
    assert "Register 3 more deals" in page
    assert "Certify 1 more rep." in page
    assert "sign in on 9 more days" in page
    client.force_login(manager)
    assert client.get(f"/portal/scorecards/?partner={partner_a.pk}").status_code == 200
    assert client.get(f"/portal/scorecards/?partner={partner_b.pk}").status_code == 404
    assert client.get("/portal/scorecards/?partner=nope").status_code == 404


def test_admin_run_page_queues_the_close_and_shows_progress(client, chief, manager):
    client.force_login(chief)
    page = client.get("/admin/scoring/quarterclose/run/")
    assert page.status_code == 200
    refused = client.post("/admin/scoring/quarterclose/run/", {"quarter": "2099Q1"})
    assert "it can be closed from the day after" in refused.content.decode()
    queued = client.post("/admin/scoring/quarterclose/run/", {"quarter": "2026Q2"})
    assert queued.status_code == 302
    assert "follow=2026Q2" in queued.url
    progress = client.get("/admin/scoring/quarterclose/2026Q2/progress/").content.decode()
    assert 'data-state="queued"' in progress
    client.force_login(manager)
    assert client.get("/admin/scoring/quarterclose/run/").status_code == 403
