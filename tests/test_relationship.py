"""RULEBOOK §10 on PostgreSQL: recruitment, onboarding that completes itself, certification
reminders and lapses, the content library and co-marketing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse

from deals import services as deal_services
from enablement import rules, services
from enablement.models import (
    CoMarketingActivity,
    ContentDownload,
    ContentItem,
    Milestone,
    OnboardingTask,
    PartnerApplication,
)
from incentives.services.mdf import mdf_request_submit
from partners.models import Partner, PartnerUser, RedFlag
from scoring.services.close import red_flags_refresh
from tests.factories import (
    CertificationFactory,
    MdfFundFactory,
    PartnerFactory,
    PartnerUserFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

APPLICANT = {
    "company_name": "Kilo Integrators",
    "domain": "www.kilo.example",
    "country": "Germany",
    "partner_type": "reseller",
    "employees": 45,
    "annual_revenue": D("4000000"),
    "customers_in_segment": 12,
    "technical_staff": 6,
    "contact_name": "Karla Kilo",
    "contact_email": "Karla@Kilo.example",
    "motivation": "Our customers ask for you.",
}


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


# ---------------------------------------------------------------- rules


def test_fit_score_is_the_share_of_profile_points():
    criteria = [
        rules.Criterion("customers_in_segment", "gte", "20", 25),
        rules.Criterion("annual_revenue", "gte", "1000000", 25),
        rules.Criterion("employees", "gte", "10", 20),
        rules.Criterion("technical_staff", "gte", "2", 15),
        rules.Criterion("partner_type", "in", "reseller, co_sell", 15),
    ]
    score, lines = rules.fit_score(
        {
            "customers_in_segment": 19,
            "annual_revenue": D("1000000"),
            "employees": 10,
            "technical_staff": 1,
            "partner_type": "Reseller",
        },
        criteria,
    )
    assert score == D("60.0")  # 25 + 20 + 15 of 100
    assert [line.met for line in lines] == [False, True, True, False, True]
    assert rules.fit_score({}, [])[0] == D("0.0")


def test_progress_and_reminder_day():
    assert rules.progress(3, 12) == 25 and rules.progress(0, 0) == 0
    assert rules.remind_on(date(2026, 12, 23)) == date(2026, 11, 23)


# ---------------------------------------------------------------- recruitment


def test_an_application_is_scored_and_duplicates_refused(monday):
    application = services.application_submit(**APPLICANT)
    assert application.domain == "kilo.example"
    assert application.contact_email == "karla@kilo.example"
    assert application.fit_score == D("75.0")  # all but customers in the segment
    with pytest.raises(ValidationError) as refused:
        services.application_submit(**APPLICANT)
    assert "already being reviewed" in str(refused.value)
    PartnerFactory(domain="lima.example")
    with pytest.raises(ValidationError) as partner_exists:
        services.application_submit(**{**APPLICANT, "domain": "lima.example"})
    assert "already a partner" in str(partner_exists.value)


def test_approving_an_application_creates_the_partner_its_admin_and_its_plan(
    monday, manager, queued_mail, django_capture_on_commit_callbacks
):
    application = services.application_submit(**APPLICANT)
    services.application_qualify(application=application, by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        application = services.application_approve(
            application=application,
            by=manager,
            agreement_signed_on=date(2026, 11, 20),
            channel_manager=manager,
            base_url="https://prm.example",
        )
    partner = application.partner
    assert (partner.status, partner.agreement_signed_on, partner.started_on) == (
        "onboarding",
        date(2026, 11, 20),
        date(2026, 11, 23),
    )
    assert partner.channel_manager == manager
    admin = PartnerUser.objects.get(partner=partner)
    assert (admin.role, admin.user.email) == ("admin", "karla@kilo.example")
    queued_mail()
    assert mail.outbox[-1].to == ["karla@kilo.example"]
    assert "https://prm.example/auth/password/reset/key/" in mail.outbox[-1].body
    due = dict(
        OnboardingTask.objects.filter(partner=partner).values_list("milestone__slug", "due_on")
    )
    assert len(due) == Milestone.objects.filter(program=partner.program).count() == 12
    assert due["product-deep-dive"] == date(2026, 12, 7)  # two weeks from the start
    assert due["first-joint-call"] == date(2026, 12, 21)  # four weeks
    assert due["first-registered-deal"] == date(2027, 2, 21)  # three months (90 days)
    with pytest.raises(services.EnablementError):
        services.application_approve(application=application, by=manager)
    services.application_activate(application=application, by=manager)
    partner.refresh_from_db()
    assert partner.status == "active"


def test_declining_tells_the_applicant(
    monday, manager, queued_mail, django_capture_on_commit_callbacks
):
    application = services.application_submit(**APPLICANT)
    with pytest.raises(ValidationError):
        services.application_decline(application=application, by=manager, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        services.application_decline(
            application=application, by=manager, reason="We cover Germany fully today."
        )
    queued_mail()
    assert "We cover Germany fully today." in mail.outbox[-1].body
    application.refresh_from_db()
    assert application.status == "declined"


# ---------------------------------------------------------------- onboarding


def onboarding_partner(**fields) -> Partner:
    partner = PartnerFactory(started_on=date(2026, 11, 2), **fields)
    services.onboarding_plan_create(partner=partner)
    return partner


def task(partner, slug) -> OnboardingTask:
    return OnboardingTask.objects.get(partner=partner, milestone__slug=slug)


def test_a_registration_ticks_the_first_registered_deal_by_itself(monday):
    partner = onboarding_partner()
    person = PartnerUserFactory(partner=partner).user
    assert task(partner, "first-registered-deal").completed_on is None
    deal_services.deal_register(
        partner=partner,
        submitted_by=person,
        customer_name="First Customer",
        customer_domain="first.example",
        amount="12000",
        expected_close=date(2027, 1, 15),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    done = task(partner, "first-registered-deal")
    assert done.completed_on == date(2026, 11, 23) and done.completed_automatically
    assert "First Customer" in done.note
    assert task(partner, "first-campaign").completed_on is None


def test_certifications_trainings_and_campaigns_complete_their_steps(monday):
    partner = onboarding_partner()
    person = PartnerUserFactory(partner=partner).user
    from enablement.services import certification_award, training_completion_record

    certification_award(
        partner=partner, user=person, certification="demo", issued_on=date(2026, 11, 10)
    )
    training_completion_record(
        partner=partner,
        user=person,
        course="product deep dive",
        completed_on=date(2026, 11, 5),
        recorded_by=None,
    )
    services.campaign_create(
        partner=partner,
        by=person,
        activity=CoMarketingActivity.objects.get(program=partner.program, slug="joint-webinar"),
        name="Launch webinar",
        starts_on=date(2026, 12, 3),
        ends_on=date(2026, 12, 3),
    )
    assert task(partner, "demo-certification").completed_on == date(2026, 11, 10)
    assert task(partner, "product-deep-dive").completed_on == date(2026, 11, 5)
    assert task(partner, "first-campaign").completed_on == date(2026, 11, 23)
    assert task(partner, "solo-demo-certification").completed_on is None


def test_a_manager_completes_a_step_once(monday, manager):
    partner = onboarding_partner()
    step = task(partner, "first-joint-call")
    services.onboarding_task_complete(task=step, by=manager)
    with pytest.raises(services.EnablementError):
        services.onboarding_task_complete(task=step, by=manager)


def test_the_onboarding_page_shows_the_plan(client, monday):
    partner = onboarding_partner(status="onboarding")
    person = PartnerUserFactory(partner=partner, role="admin").user
    client.force_login(person)
    page = client.get(reverse("portal-onboarding")).content.decode()
    assert "Product deep dive" in page and "Solo demo certification" in page
    assert "0 of 12 done" in page
    home = client.get(reverse("portal-home")).content.decode()
    assert 'data-testid="onboarding-card"' in home


def test_onboarding_page_query_count_is_flat(client, monday, django_assert_max_num_queries):
    partner = onboarding_partner()
    person = PartnerUserFactory(partner=partner).user
    client.force_login(person)
    with django_assert_max_num_queries(25) as few:
        client.get(reverse("portal-onboarding"))
    for n in range(10):
        Milestone.objects.create(
            program=partner.program,
            slug=f"extra-{n}",
            name=f"Extra {n}",
            phase="weeks_3_4",
            due_days=20,
        )
    services.onboarding_plan_create(partner=partner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("portal-onboarding")).status_code == 200


# ---------------------------------------------------------------- certification reminders


def test_the_expiry_reminder_fires_30_days_before_once(
    queued_mail, django_capture_on_commit_callbacks
):
    certification = CertificationFactory(
        issued_on=date(2024, 12, 23), expires_on=date(2026, 12, 23)
    )
    certification.user.email = "holder@example.com"
    certification.user.save()
    with time_machine.travel(datetime(2026, 11, 22, 7, tzinfo=UTC), tick=False):
        assert services.certifications_remind_expiring() == 0
    with (
        time_machine.travel(datetime(2026, 11, 23, 7, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.certifications_remind_expiring() == 1
        assert services.certifications_remind_expiring() == 0
    queued_mail()
    assert mail.outbox[-1].to == ["holder@example.com"]
    assert certification.partner.notices.filter(user=certification.user).exists()


def test_a_renewed_certification_is_not_reminded():
    old = CertificationFactory(issued_on=date(2024, 12, 23), expires_on=date(2026, 12, 23))
    CertificationFactory(
        partner=old.partner,
        user=old.user,
        certification_type=old.certification_type,
        issued_on=date(2026, 11, 1),
        expires_on=date(2028, 11, 1),
    )
    with time_machine.travel(datetime(2026, 11, 23, 7, tzinfo=UTC), tick=False):
        assert services.certifications_remind_expiring() == 0


def test_a_lapse_raises_cert_lapsed_on_the_expiry_day():
    partner = PartnerFactory(tier=default_tier("silver"))  # needs 1 certified rep
    person = PartnerUserFactory(partner=partner).user
    CertificationFactory(
        partner=partner, user=person, issued_on=date(2024, 12, 1), expires_on=date(2026, 12, 1)
    )
    red_flags_refresh(as_of=date(2026, 11, 30), notify=False)
    assert not RedFlag.objects.filter(partner=partner, kind="cert_lapsed").exists()
    red_flags_refresh(as_of=date(2026, 12, 1), notify=False)
    assert RedFlag.objects.filter(partner=partner, kind="cert_lapsed", status="open").exists()


# ---------------------------------------------------------------- content and co-marketing


def test_content_is_gated_by_tier_and_downloads_are_counted(client, partner_a):
    program = partner_a.program  # partner_a is silver (rank 1)
    everyone = ContentItem.objects.create(
        program=program,
        title="Battle card",
        kind="collateral",
        file=ContentFile(b"%PDF-1.4 card", name="card.pdf"),
    )
    gold = ContentItem.objects.create(
        program=program,
        title="Roadmap preview",
        kind="presentation",
        url="https://vendor.example/roadmap",
        min_tier_rank=2,
    )
    person = PartnerUserFactory(partner=partner_a).user
    client.force_login(person)
    page = client.get(reverse("portal-content")).content.decode()
    assert "Battle card" in page and "Gold and above" in page
    download = client.get(reverse("portal-content-open", args=[everyone.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 card"
    locked = client.get(reverse("portal-content-open", args=[gold.pk]), follow=True)
    assert "for higher tiers" in locked.content.decode()
    assert ContentDownload.objects.filter(item=everyone, partner=partner_a).count() == 1
    assert not ContentDownload.objects.filter(item=gold).exists()


def test_campaign_leads_and_mdf_funding(client, monday, partner_a, manager, partner_b):
    person = PartnerUserFactory(partner=partner_a, role="admin").user
    webinar = CoMarketingActivity.objects.get(program=partner_a.program, slug="joint-webinar")
    campaign = services.campaign_create(
        partner=partner_a,
        by=person,
        activity=webinar,
        name="Cloud security webinar",
        starts_on=date(2026, 12, 2),
        ends_on=date(2026, 12, 2),
    )
    assert campaign.expected_leads == 125  # the middle of 50–200
    client.force_login(person)
    client.post(
        reverse("portal-campaign-lead", args=[campaign.pk]),
        {"company_name": "Acme Corp", "contact_email": "cio@acme.example"},
    )
    bad = client.post(reverse("portal-campaign-lead", args=[campaign.pk]), {"company_name": ""})
    assert bad.status_code == 400
    page = client.get(reverse("portal-campaign", args=[campaign.pk])).content.decode()
    assert "Acme Corp" in page and "of 125 expected" in page

    MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("9000"))
    request = mdf_request_submit(
        partner=partner_a,
        by=person,
        activity_type="joint_webinar",
        title="Webinar promotion",
        planned_cost="2000",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 2),
        expected_leads=125,
        campaign=campaign,
    )
    assert list(campaign.mdf_requests.all()) == [request]
    other = services.campaign_create(
        partner=partner_b,
        by=None,
        activity=webinar,
        name="Theirs",
        starts_on=date(2026, 12, 2),
        ends_on=date(2026, 12, 2),
    )
    with pytest.raises(ValidationError):
        mdf_request_submit(
            partner=partner_a,
            by=person,
            activity_type="joint_webinar",
            title="Not ours",
            planned_cost="100",
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 2),
            expected_leads=1,
            campaign=other,
        )


def test_bad_campaign_input_is_a_400(client, monday, partner_a):
    person = PartnerUserFactory(partner=partner_a).user
    client.force_login(person)
    response = client.post(
        reverse("portal-campaigns"),
        {"name": "Backwards", "starts_on": "2026-12-10", "ends_on": "2026-12-01"},
    )
    assert response.status_code == 400


# ---------------------------------------------------------------- the public form and the admin


def test_the_public_form(client, monday):
    assert client.get("/apply/").status_code == 200
    bad = client.post("/apply/", {**APPLICANT, "employees": "many"})
    assert bad.status_code == 400 and "Enter a whole number" in bad.content.decode()
    robot = client.post("/apply/", {**APPLICANT, "website": "http://spam.example"})
    assert robot.status_code == 400 and not PartnerApplication.objects.exists()
    done = client.post("/apply/", APPLICANT)
    assert done.status_code == 200 and "Thank you, Karla Kilo" in done.content.decode()
    assert PartnerApplication.objects.get().status == "applied"


def test_the_pipeline_in_the_admin(client, monday, manager, django_capture_on_commit_callbacks):
    application = services.application_submit(**APPLICANT)
    url = reverse("admin:enablement_partnerapplication_changelist")
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert "Kilo Integrators" in page and "First six months" in page
    client.post(url, {"action": "qualify_selected", "_selected_action": [application.pk]})
    asked = client.post(url, {"action": "approve_selected", "_selected_action": [application.pk]})
    assert "Agreement signed on" in asked.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "action": "approve_selected",
                "_selected_action": [application.pk],
                "confirmed": "1",
                "agreement_signed_on": "2026-11-21",
                "channel_manager": manager.pk,
            },
        )
    application.refresh_from_db()
    assert application.status == "onboarding" and application.partner.channel_manager == manager


@pytest.mark.parametrize(
    "name",
    [
        "admin:enablement_partnerapplication_changelist",
        "admin:enablement_onboardingtask_changelist",
        "admin:enablement_campaign_changelist",
        "admin:enablement_contentitem_changelist",
    ],
)
def test_enablement_admin_query_counts_are_flat(
    client, chief, name, monday, django_assert_max_num_queries
):
    def rows(n):
        for i in range(n):
            partner = onboarding_partner()
            services.campaign_create(
                partner=partner,
                by=None,
                activity=CoMarketingActivity.objects.filter(program=partner.program).first(),
                name=f"Campaign {i}",
                starts_on=date(2026, 12, 1),
                ends_on=date(2026, 12, 1),
            )
            services.application_submit(**{**APPLICANT, "domain": f"app{partner.pk}.example"})
            ContentItem.objects.create(
                program=partner.program,
                title=f"Item {partner.pk}",
                kind="playbook",
                url="https://vendor.example/x",
            )

    rows(2)
    client.force_login(chief)
    with django_assert_max_num_queries(40) as few:
        assert client.get(reverse(name)).status_code == 200
    rows(8)
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        assert client.get(reverse(name)).status_code == 200


def test_a_date_in_the_past_for_first_steps(monday):
    """A partner already past its ramp sees its steps overdue, not hidden."""
    partner = PartnerFactory(started_on=date(2026, 6, 1))
    services.onboarding_plan_create(partner=partner)
    from enablement.queries import onboarding_summary

    summary = onboarding_summary(partner, today=date(2026, 11, 23))
    assert summary["overdue"] == summary["total"] == 12
    assert timedelta(days=90) == task(partner, "qbr-cadence").due_on - date(2026, 6, 1)


def test_a_first_mdf_activity_counts_as_the_first_campaign(monday):
    partner = onboarding_partner()
    person = PartnerUserFactory(partner=partner).user
    MdfFundFactory(partner=partner, fiscal_year=2026, amount=D("5000"))
    mdf_request_submit(
        partner=partner,
        by=person,
        activity_type="event",
        title="Customer breakfast",
        planned_cost="800",
        starts_on=date(2026, 12, 3),
        ends_on=date(2026, 12, 3),
        expected_leads=20,
    )
    step = task(partner, "first-campaign")
    assert step.completed_on == date(2026, 11, 23) and "Customer breakfast" in step.note
