"""The admin's "Run a quarter close": a first close is queued at once; closing a quarter
already closed asks first; a quarter that may not be closed is a form error."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection

from partners.models import Partner
from scoring import tasks
from scoring.models import QuarterClose
from scoring.services.close import quarter_close

pytestmark = pytest.mark.django_db

RUN = "/admin/scoring/quarterclose/run/"


@pytest.fixture
def queued():
    """The closes the test's requests hand to the broker once their transaction commits
    (the test's own transaction never does): ``[(quarter, requested by)]``."""

    def pending():
        return [
            call.args
            for _, call, _ in connection.run_on_commit
            if getattr(call, "func", None) is tasks._send_close
        ]

    return pending


def close_row(label):
    return QuarterClose.objects.values_list(
        "state", "runs", "requested_by", "requested_at", "finished_at"
    ).get(quarter=label)


@pytest.fixture
def closed_q2(chief, partner_a):
    """2026Q2 closed by the chief on 1 July 2026 at 09:30."""
    chief.first_name, chief.last_name = "Cora", "Chen"
    chief.save()
    with time_machine.travel(datetime(2026, 7, 1, 9, 30, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q2", by=chief)
    return QuarterClose.objects.get(quarter="2026Q2")


def test_a_first_close_is_queued_without_a_confirmation(client, chief, partner_a, queued):
    client.force_login(chief)
    response = client.post(RUN, {"quarter": "2026q2"})
    assert response.status_code == 302
    assert "follow=2026Q2" in response.url
    assert QuarterClose.objects.get(quarter="2026Q2").state == "queued"
    assert queued() == [("2026Q2", chief.pk)]


def test_closing_a_closed_quarter_again_asks_first_and_runs_nothing_until_confirmed(
    client, chief, closed_q2, queued
):
    before = close_row("2026Q2")
    client.force_login(chief)

    asked = client.post(RUN, {"quarter": "2026q2"})

    assert asked.status_code == 200
    assert [t.name for t in asked.templates][0] == "admin/scoring/quarterclose/confirm_rerun.html"
    page = asked.content.decode()
    assert "Close 2026Q2 again?" in page
    assert "2026Q2 was already closed on 1 Jul 2026 09:30 by Cora Chen." in page
    assert "recomputes its scorecards and tier decisions" in page
    assert "nothing is ever paid twice" in page
    assert 'value="Close again"' in page
    assert f'href="{RUN}"' in page and "Cancel" in page
    assert close_row("2026Q2") == before  # not requested, not queued
    assert queued() == []

    cancelled = client.get(RUN)  # where "Cancel" leads: the form, nothing run
    assert cancelled.status_code == 200
    assert close_row("2026Q2") == before and queued() == []

    confirmed = client.post(RUN, {"quarter": "2026Q2", "confirm": "True"})

    assert confirmed.status_code == 302
    assert "follow=2026Q2" in confirmed.url
    assert QuarterClose.objects.get(quarter="2026Q2").state == "queued"
    assert queued() == [("2026Q2", chief.pk)]


def test_a_quarter_closed_by_the_scheduled_job_says_so(client, chief, partner_a, queued):
    with time_machine.travel(datetime(2026, 7, 1, 2, 0, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q2")
    client.force_login(chief)
    page = client.post(RUN, {"quarter": "2026Q2"}).content.decode()
    assert (
        "2026Q2 was already closed on 1 Jul 2026 02:00 by the scheduled job or the "
        "close_quarter command." in page
    )
    assert queued() == []


def test_a_close_still_running_or_failed_is_run_again_without_asking(
    client, chief, partner_a, queued
):
    QuarterClose.objects.create(quarter="2026Q2", state="failed", error="boom")
    client.force_login(chief)
    assert client.post(RUN, {"quarter": "2026Q2"}).status_code == 302
    assert queued() == [("2026Q2", chief.pk)]


def test_a_quarter_before_the_first_partner_is_a_form_error_even_confirmed(
    client, chief, partner_a, queued
):
    Partner.objects.filter(pk=partner_a.pk).update(started_on=date(2025, 3, 3))
    # Closed before the rule held: still refused, not offered again.
    QuarterClose.objects.create(
        quarter="2024Q4", state="done", finished_at=datetime(2025, 1, 2, tzinfo=UTC)
    )
    client.force_login(chief)
    for data in ({"quarter": "2024Q4"}, {"quarter": "2024Q4", "confirm": "True"}):
        response = client.post(RUN, data)
        assert response.status_code == 200
        assert [t.name for t in response.templates][0] == "admin/scoring/quarterclose/run.html"
        form = response.context["form"]
        assert form.errors["quarter"] == [
            "2024Q4 ended on 31 Dec 2024, before the program's first partner started on "
            "3 Mar 2025: no partner can be scored for it. The first quarter that can be "
            "closed is 2025Q1."
        ]
        assert "before the program&#x27;s first partner started" in response.content.decode()
    assert QuarterClose.objects.get(quarter="2024Q4").state == "done"
    assert queued() == []
