"""Onboarding plans for partners that started before plans were kept
(``manage.py onboarding_backfill``, run by ``seed_demo`` too)."""

from datetime import date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from deals.models import DealStatus
from enablement.models import OnboardingTask, TrainingCompletion
from enablement.services import onboarding_plan_create
from partners.models import PartnerStatus
from scoring.services.onboarding import onboarding_plans_backfill
from tests.factories import CertificationFactory, DealFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("onboarding_backfill", *args, stdout=out)
    return out.getvalue()


def task(partner, slug) -> OnboardingTask:
    return OnboardingTask.objects.get(partner=partner, milestone__slug=slug)


@pytest.fixture
def veteran():
    """A partner that started two years ago, before plans were kept: a registration, a
    rejected one before it, a demo certification and a course done."""
    partner = PartnerFactory(name="Veteran Ltd", started_on=date(2024, 11, 4))
    DealFactory(
        partner=partner,
        status=DealStatus.REJECTED,
        submitted_at=timezone.make_aware(datetime(2024, 11, 20, 10)),
    )
    DealFactory(partner=partner, submitted_at=timezone.make_aware(datetime(2024, 12, 3, 10)))
    cert = CertificationFactory(partner=partner, issued_on=date(2024, 11, 15))
    TrainingCompletion.objects.create(
        partner=partner, user=cert.user, course="Objection handling", completed_on=date(2025, 1, 9)
    )
    return partner


def test_dry_run_lists_the_partners_and_changes_nothing(veteran):
    out = run("--dry-run")
    assert "Veteran Ltd" in out
    assert "1 partner(s) have no onboarding plan." in out
    assert not OnboardingTask.objects.exists()


def test_the_plan_is_due_from_the_start_with_proven_steps_done_on_their_dates(veteran):
    out = run()
    assert "1 onboarding plan(s) created" in out
    plan = OnboardingTask.objects.filter(partner=veteran)
    assert plan.count() > 5
    assert task(veteran, "demo-certification").due_on == date(2024, 11, 18)  # start + 14 days
    # Proven by data, on the day of the proof; the rejected registration proves nothing.
    first = task(veteran, "first-registered-deal")
    assert first.completed_on == date(2024, 12, 3) and first.completed_automatically
    assert task(veteran, "demo-certification").completed_on == date(2024, 11, 15)
    assert task(veteran, "objection-handling").completed_on == date(2025, 1, 9)
    # Nothing proves the solo demo certification: open (and overdue).
    assert task(veteran, "solo-demo-certification").completed_on is None


def test_a_second_run_creates_nothing(veteran):
    run()
    tasks = list(OnboardingTask.objects.values_list("pk", "completed_on"))
    assert "0 onboarding plan(s) created" in run()
    assert list(OnboardingTask.objects.values_list("pk", "completed_on")) == tasks


def test_partners_with_a_plan_prospects_and_exited_partners_are_left_alone(veteran):
    recent = PartnerFactory(started_on=timezone.localdate() - timedelta(days=20))
    onboarding_plan_create(partner=recent)
    OnboardingTask.objects.filter(partner=recent).first().delete()  # one step removed by hand
    PartnerFactory(status=PartnerStatus.PROSPECT)
    PartnerFactory(status=PartnerStatus.EXITED)
    before = OnboardingTask.objects.filter(partner=recent).count()
    result = onboarding_plans_backfill()
    assert [p.pk for p in result.partners] == [veteran.pk]
    assert OnboardingTask.objects.filter(partner=recent).count() == before


def test_the_facts_are_gathered_in_queries_that_do_not_grow_with_partners(
    django_assert_max_num_queries,
):
    from scoring.queries import onboarding_proofs

    partners = [PartnerFactory() for _ in range(5)]
    for partner in partners:
        DealFactory(partner=partner)
    with django_assert_max_num_queries(3):
        proofs = onboarding_proofs(p.pk for p in partners)
    assert set(proofs) == {p.pk for p in partners}
