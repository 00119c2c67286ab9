"""Retention (``prm.retention``): each prune deletes what is past its age and nothing a
second younger, keeps unread notices and history younger than its limit, rolls old
login days up without changing any scorecard's count, finds nothing the second time, and
with ``--dry-run`` changes nothing."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from enablement.models import LoginDay, LoginMonth
from enablement.queries import engagement_counts
from enablement.services import login_days_roll_up
from partners.models import Notice, Partner
from partners.services import notices_prune
from prm import retention
from prm.models import FormPost
from prm.tasks import prune as prune_task
from tests.factories import PartnerFactory, PartnerUserFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program_data")]

NOW = datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def at(moment: datetime, make):
    """``make()`` with the clock at ``moment`` (for fields stamped on creation)."""
    with time_machine.travel(moment, tick=False):
        return make()


# ---------------------------------------------------------------- the shared layer


def test_expired_sessions_go_live_ones_stay(clock):
    for key, expiry in (("expired", NOW - SECOND), ("live", NOW + SECOND)):
        Session.objects.create(session_key=key, session_data="{}", expire_date=expiry)
    assert retention.sessions_prune(now=NOW) == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_the_admin_log_is_kept_two_years(clock, manager):
    cutoff = NOW - timedelta(days=730)
    kind = ContentType.objects.get_for_model(Partner)
    for when, label in ((cutoff - SECOND, "old"), (cutoff + SECOND, "young")):
        LogEntry.objects.create(
            user=manager,
            content_type=kind,
            object_id="1",
            object_repr=label,
            action_flag=ADDITION,
            action_time=when,
        )
    assert retention.admin_log_prune(now=NOW) == 1
    assert list(LogEntry.objects.values_list("object_repr", flat=True)) == ["young"]


def test_history_older_than_seven_years_goes_and_younger_history_is_never_touched(clock):
    cutoff = datetime(2019, 12, 6, 3, 30, tzinfo=UTC)
    assert retention.history_cutoff(NOW) == cutoff
    old = at(cutoff - SECOND, lambda: PartnerFactory(name="Old Ltd"))
    young = at(cutoff + SECOND, lambda: PartnerFactory(name="Young Ltd"))
    at(NOW - timedelta(days=1), lambda: Partner.objects.filter(pk=old.pk).first().save())
    history = Partner.history.model
    younger = {
        model: set(model.objects.filter(history_date__gte=cutoff).values_list("pk", flat=True))
        for model in retention.historical_models()
    }
    assert retention.history_prune(now=NOW, dry_run=True) == 1
    assert retention.history_prune(now=NOW) == 1
    assert not history.objects.filter(history_date__lt=cutoff).exists()
    assert history.objects.filter(id=young.pk).count() == 1
    assert history.objects.filter(id=old.pk).count() == 1  # its change yesterday stays
    for model, kept in younger.items():
        assert set(model.objects.values_list("pk", flat=True)) >= kept, model
    assert retention.history_prune(now=NOW) == 0


def test_the_29th_of_february_falls_back_to_the_28th():
    leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert retention.history_cutoff(leap) == datetime(2021, 2, 28, 12, tzinfo=UTC)


def test_sign_in_records_are_kept_ninety_days(clock):
    cutoff = NOW - timedelta(days=90)
    common = {"user_agent": "curl", "ip_address": "198.51.100.9", "http_accept": "*/*"}
    for when, name in ((cutoff - SECOND, "old"), (cutoff + SECOND, "young")):
        at(when, lambda name=name: AccessLog.objects.create(username=name, **common))
        at(when, lambda name=name: AccessFailureLog.objects.create(username=name, **common))
        at(
            when,
            lambda name=name: AccessAttempt.objects.create(
                username=name, get_data="", post_data="", failures_since_start=1, **common
            ),
        )
    assert retention.sign_in_records_prune(now=NOW) == 3
    for model in (AccessLog, AccessFailureLog, AccessAttempt):
        assert list(model.objects.values_list("username", flat=True)) == ["young"]


def test_anonymous_form_posts_are_kept_a_day(clock):
    for when, kind in (
        (NOW - timedelta(days=1) - SECOND, "old"),
        (NOW - timedelta(days=1) + SECOND, "young"),
    ):
        FormPost.objects.create(kind=kind, address_hash="x" * 64, posted_at=when)
    assert retention.form_posts_prune(now=NOW) == 1
    assert list(FormPost.objects.values_list("kind", flat=True)) == ["young"]


# ---------------------------------------------------------------- notices


def test_read_notices_go_after_180_days_unread_ones_stay(clock):
    cutoff = NOW - timedelta(days=180)
    partner = PartnerFactory()
    ana = PartnerUserFactory(partner=partner, notices_seen_at=NOW - timedelta(days=1))
    ben = PartnerUserFactory(partner=partner, notices_seen_at=cutoff - timedelta(days=10))
    gone = PartnerUserFactory(partner=partner, notices_seen_at=None)
    gone.user.is_active = False
    gone.user.save()

    def notice(text: str, created_at: datetime, user=None) -> Notice:
        return Notice.objects.create(partner=partner, user=user, text=text, created_at=created_at)

    notice("to all, seen by both", cutoff - timedelta(days=20))
    notice("to all, just past the age", cutoff - SECOND - timedelta(days=10) - SECOND)
    notice("to all, Ben has not seen it", cutoff - SECOND)
    notice("to Ana, seen", cutoff - SECOND, user=ana.user)
    notice("to Ben, not seen", cutoff - timedelta(days=5), user=ben.user)
    notice("to the one who left, never seen", cutoff - SECOND, user=gone.user)
    notice("to all, young", cutoff + SECOND)
    notice("to Ana, young and seen", cutoff + SECOND, user=ana.user)

    assert notices_prune(now=NOW, dry_run=True) == 4
    assert Notice.objects.count() == 8
    assert notices_prune(now=NOW) == 4
    assert set(Notice.objects.values_list("text", flat=True)) == {
        "to all, Ben has not seen it",
        "to Ben, not seen",
        "to all, young",
        "to Ana, young and seen",
    }
    assert notices_prune(now=NOW) == 0


# ---------------------------------------------------------------- login days


def test_login_days_past_two_years_roll_up_by_month_and_the_counts_stay(clock):
    partner, other = PartnerFactory(), PartnerFactory()
    ana = PartnerUserFactory(partner=partner).user
    ben = PartnerUserFactory(partner=partner).user
    cleo = PartnerUserFactory(partner=other).user
    # Kept day by day from 2024-12-01 (two years back is 2024-12-06: whole months only).
    days = [
        (ana, date(2024, 10, 3)),
        (ben, date(2024, 10, 3)),  # the same day: one login day for the partner
        (ana, date(2024, 11, 29)),
        (ben, date(2024, 11, 30)),
        (ana, date(2024, 12, 1)),  # kept
        (cleo, date(2024, 11, 2)),
    ]
    for user, day in days:
        LoginDay.objects.create(user=user, partner=user.membership.partner, day=day)
    quarter = (date(2024, 10, 1), date(2024, 12, 31))
    before = engagement_counts(None, *quarter)
    assert (before[partner.pk]["login_days"], before[other.pk]["login_days"]) == (4, 1)

    assert login_days_roll_up(now=NOW, dry_run=True) == 5
    assert LoginDay.objects.count() == 6
    assert login_days_roll_up(now=NOW) == 5
    assert list(LoginDay.objects.values_list("day", flat=True)) == [date(2024, 12, 1)]
    months = {(m.partner_id, m.month): (m.login_days, m.people) for m in LoginMonth.objects.all()}
    assert months == {
        (partner.pk, date(2024, 10, 1)): (1, 2),
        (partner.pk, date(2024, 11, 1)): (2, 2),
        (other.pk, date(2024, 11, 1)): (1, 1),
    }
    assert engagement_counts(None, *quarter) == before  # a rerun of that close sees the same
    assert engagement_counts([other.pk], *quarter) == {other.pk: before[other.pk]}
    assert login_days_roll_up(now=NOW) == 0


def test_login_days_of_the_last_400_days_are_never_rolled_up(clock, settings):
    settings.LOGIN_DAY_RETENTION_DAYS = 30
    user = PartnerUserFactory().user
    partner = user.membership.partner
    for day in (date(2025, 10, 31), date(2025, 11, 1)):
        LoginDay.objects.create(user=user, partner=partner, day=day)
    assert login_days_roll_up(now=NOW) == 1  # before 2025-11-01 (400 days back: 2025-11-02)
    assert list(LoginDay.objects.values_list("day", flat=True)) == [date(2025, 11, 1)]


# ---------------------------------------------------------------- all of them


def a_bit_of_everything():
    cutoff_notice = NOW - timedelta(days=181)
    member = PartnerUserFactory(notices_seen_at=NOW)
    partner = member.partner
    Notice.objects.create(partner=partner, text="old and seen", created_at=cutoff_notice)
    Notice.objects.create(partner=partner, text="new", created_at=NOW)
    Session.objects.create(session_key="x", session_data="{}", expire_date=NOW - SECOND)
    FormPost.objects.create(kind="apply", address_hash="y" * 64, posted_at=NOW - timedelta(days=2))
    LoginDay.objects.create(user=member.user, partner=partner, day=date(2023, 5, 5))
    at(NOW - timedelta(days=365 * 8), lambda: PartnerFactory())
    UserFactory()


def test_the_command_prints_each_kind_and_a_dry_run_changes_nothing(clock):
    a_bit_of_everything()
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    dry = out.getvalue()
    assert "expired sessions" in dry and "would go" in dry and "nothing changed" in dry
    assert Notice.objects.count() == 2 and LoginDay.objects.count() == 1
    counts_before = retention.prune_all(now=NOW, dry_run=True)

    out = StringIO()
    call_command("prune", stdout=out)
    lines = out.getvalue().splitlines()
    for kind, count in counts_before.items():  # "read notices      1 pruned"
        assert any(line.startswith(kind) and f" {count:,} pruned" in line for line in lines)
    assert counts_before["read notices"] == 1
    assert counts_before["login days rolled up"] == 1
    assert counts_before["expired sessions"] == 1
    assert counts_before["anonymous form posts"] == 1
    assert counts_before["history records"] >= 1
    assert list(Notice.objects.values_list("text", flat=True)) == ["new"]

    assert set(retention.prune_all(now=NOW).values()) == {0}  # idempotent


def test_the_nightly_job_prunes_every_kind_and_is_on_the_schedule(clock):
    a_bit_of_everything()
    counts = prune_task.apply(throw=True).get()
    assert set(counts) == set(retention.registered())
    assert counts["read notices"] == 1
    assert set(prune_task.apply(throw=True).get().values()) == {0}
    job = PeriodicTask.objects.get(task="prm.prune")
    assert (job.enabled, job.crontab.hour, job.crontab.minute) == (True, "3", "30")
