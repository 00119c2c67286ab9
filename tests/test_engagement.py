"""Engagement inputs: portal-login days from sign-ins, trainings and events by API."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from enablement.models import EventAttendance, LoginDay, TrainingCompletion
from scoring import tasks
from scoring.models import QuarterClose
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    return client.post(
        reverse("account_login"), {"login": user.username, "password": "Correct-Horse-9"}
    )


def test_a_portal_sign_in_records_one_login_day_per_day(client, a_rep, partner_a):
    with time_machine.travel("2026-05-04 09:00Z", tick=False):
        sign_in(client, a_rep)
        client.logout()
        sign_in(client, a_rep)
    with time_machine.travel("2026-05-05 09:00Z", tick=False):
        client.logout()
        sign_in(client, a_rep)
    days = list(LoginDay.objects.filter(user=a_rep).values_list("partner_id", "day"))
    assert days == [(partner_a.pk, date(2026, 5, 4)), (partner_a.pk, date(2026, 5, 5))]


def test_api_tokens_and_staff_sign_ins_do_not_count(client, api, a_rep, manager):
    api().post("/api/v1/auth/token/", {"username": a_rep.username, "password": "Correct-Horse-9"})
    sign_in(client, manager)
    assert not LoginDay.objects.exists()


def test_manager_records_trainings_and_events(api, manager, a_rep, partner_a):
    client = api(manager)
    training = client.post(
        f"/api/v1/partners/{partner_a.pk}/trainings/",
        {"user": a_rep.pk, "course": "Objection handling", "completed_on": "2026-05-01"},
        format="json",
    )
    assert training.status_code == 201, training.json()
    again = client.post(
        f"/api/v1/partners/{partner_a.pk}/trainings/",
        {"user": a_rep.pk, "course": "Objection handling", "completed_on": "2026-05-01"},
        format="json",
    )
    assert again.json()["id"] == training.json()["id"]  # recorded once
    event = client.post(
        f"/api/v1/partners/{partner_a.pk}/events/",
        {"user": a_rep.pk, "event": "Partner summit", "attended_on": "2026-06-02"},
        format="json",
    )
    assert event.status_code == 201
    assert TrainingCompletion.objects.count() == EventAttendance.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"course": "", "completed_on": "2026-05-01"}, "course"),
        ({"course": "X", "completed_on": "soon"}, "completed_on"),
    ],
)
def test_bad_engagement_input_is_400(api, manager, a_rep, partner_a, body, field):
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.pk}/trainings/", dict(body, user=a_rep.pk), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


def test_partner_cannot_record_its_own_engagement(api, a_admin, a_rep, partner_a):
    response = api(a_admin).post(
        f"/api/v1/partners/{partner_a.pk}/events/",
        {"user": a_rep.pk, "event": "Summit", "attended_on": "2026-06-02"},
        format="json",
    )
    assert response.status_code == 403


def test_the_close_and_the_flag_refresh_are_on_the_beat_schedule():
    quarterly = PeriodicTask.objects.get(task="scoring.close_previous_quarter").crontab
    assert (quarterly.minute, quarterly.hour, quarterly.day_of_month) == ("0", "2", "1")
    assert quarterly.month_of_year == "1,4,7,10"
    assert PeriodicTask.objects.filter(task="scoring.refresh_red_flags", enabled=True).exists()


def test_the_scheduled_close_closes_the_quarter_that_just_ended():
    PartnerFactory()
    with time_machine.travel("2026-07-01 02:00Z", tick=False):
        result = tasks.close_previous_quarter()
    assert result["quarter"] == "2026Q2"
    assert QuarterClose.objects.get(quarter="2026Q2").state == "done"
    assert tasks.refresh_red_flags() == {"opened": 0, "resolved": 0}


def test_sign_in_days_from_before_the_portal_are_imported_once(a_rep, partner_a, partner_b):
    from django.core.exceptions import ValidationError

    from enablement.services import login_days_import

    days = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 2)]
    assert login_days_import(partner=partner_a, user=a_rep, days=days) == 2
    assert login_days_import(partner=partner_a, user=a_rep, days=[date(2025, 3, 2)]) == 0
    assert LoginDay.objects.filter(user=a_rep, partner=partner_a).count() == 2
    with pytest.raises(ValidationError):  # not one of partner_b's people
        login_days_import(partner=partner_b, user=a_rep, days=[date(2025, 3, 3)])
    with pytest.raises(ValidationError):
        login_days_import(partner=partner_a, user=a_rep, days=[date(2999, 1, 1)])
    assert LoginDay.objects.count() == 2
