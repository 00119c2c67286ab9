"""Overdue QBRs: still scheduled, their day passed without being held. Marked in the
portal and the admin, filtered in the admin's list and the API's (``?overdue=``)."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from scoring.models import Qbr, QbrStatus
from scoring.queries import qbr_overdue

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 16)


def make_qbr(partner, quarter, scheduled_for, *, status=QbrStatus.SCHEDULED) -> Qbr:
    return Qbr.objects.create(
        partner=partner,
        quarter=quarter,
        cadence="quarterly",
        scheduled_for=scheduled_for,
        status=status,
        held_on=scheduled_for if status == QbrStatus.HELD else None,
        shared_with_partner=True,
        sections={},  # not prepared: the page says so
    )


@pytest.fixture
def qbrs(partner_a):
    """Overdue (2026Q4, day passed), held (2026Q3), cancelled (2026Q2), upcoming (2027Q1)
    and one due today (2026Q1: not overdue on its own day)."""
    with time_machine.travel(TODAY, tick=False):
        yield {
            "overdue": make_qbr(partner_a, "2026Q4", date(2026, 10, 20)),
            "held": make_qbr(partner_a, "2026Q3", date(2026, 7, 20), status=QbrStatus.HELD),
            "cancelled": make_qbr(
                partner_a, "2026Q2", date(2026, 4, 20), status=QbrStatus.CANCELLED
            ),
            "upcoming": make_qbr(partner_a, "2027Q1", date(2027, 1, 20)),
            "today": make_qbr(partner_a, "2026Q1", TODAY),
        }


def test_only_a_scheduled_qbr_past_its_day_is_overdue(qbrs):
    overdue = set(Qbr.objects.filter(qbr_overdue(TODAY)).values_list("pk", flat=True))
    assert overdue == {qbrs["overdue"].pk}
    assert [name for name, q in qbrs.items() if q.overdue_on(TODAY)] == ["overdue"]


def test_the_portal_marks_it(client, a_admin, qbrs):
    client.force_login(a_admin)
    page = client.get(reverse("portal-qbrs")).content.decode()
    assert 'data-testid="overdue-2026Q4"' in page
    assert page.count('data-testid="overdue-') == 1
    detail = client.get(reverse("portal-qbr", args=[qbrs["overdue"].pk])).content.decode()
    assert 'data-testid="overdue"' in detail and "20 Oct 2026" in detail
    upcoming = client.get(reverse("portal-qbr", args=[qbrs["upcoming"].pk])).content.decode()
    assert 'data-testid="overdue"' not in upcoming


def test_the_portal_marks_it_in_chinese(client, a_admin, qbrs):
    client.force_login(a_admin)
    page = client.get(reverse("portal-qbrs"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已逾期" in page


def test_the_admin_marks_and_filters_it(client, manager, qbrs, django_assert_max_num_queries):
    client.force_login(manager)
    url = reverse("admin:scoring_qbr_changelist")
    page = client.get(url).content.decode()
    assert page.count("Overdue · 27 d") == 1
    with django_assert_max_num_queries(12):
        filtered = client.get(url, {"held": "overdue"})
    rows = filtered.context["cl"].result_list
    assert [q.pk for q in rows] == [qbrs["overdue"].pk]


def test_the_api_filters_and_marks_it(api, manager, a_rep, qbrs):
    rows = api(manager).get("/api/v1/qbrs/", {"overdue": "true"}).json()["results"]
    assert [(r["id"], r["overdue"]) for r in rows] == [(qbrs["overdue"].pk, True)]
    others = api(a_rep).get("/api/v1/qbrs/", {"overdue": "false"}).json()["results"]
    assert qbrs["overdue"].pk not in {r["id"] for r in others}
    assert len(others) == 4 and not any(r["overdue"] for r in others)
    # The filter adds to the others.
    both = api(manager).get("/api/v1/qbrs/", {"overdue": "true", "quarter": "2026Q3"})
    assert both.json()["results"] == []


def test_the_api_answers_a_bad_overdue_value_with_a_400(api, manager, qbrs):
    response = api(manager).get("/api/v1/qbrs/", {"overdue": "sometimes"})
    assert response.status_code == 400
    assert "overdue" in response.json()
