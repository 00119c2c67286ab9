"""Writes of the enablement app: certifications and engagement, recruitment, onboarding,
the content library and co-marketing (RULEBOOK §10)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from partners.models import (
    NoticeKind,
    Partner,
    PartnerRole,
    PartnerStatus,
    PartnerUser,
    Program,
    User,
)
from partners.queries import default_program
from partners.services import (
    notice_send,
    partner_create,
    partner_domain_check,
    partner_update,
    partner_user_invite,
)
from prm.deferred_text import date_value
from prm.mail import mail_on_commit
from prm.normalize import normalize_host
from prm.quarters import add_months
from prm.uploads import KINDS as UPLOAD_KINDS
from prm.uploads import Upload, upload_from, upload_problem

from . import presets, rules
from .models import (
    ApplicationStatus,
    AutoEvent,
    Campaign,
    CampaignLead,
    CampaignStatus,
    Certification,
    CertificationType,
    CoMarketingActivity,
    ContentDownload,
    ContentItem,
    EventAttendance,
    LoginDay,
    LoginMonth,
    Milestone,
    OnboardingTask,
    PartnerApplication,
    ProfileCriterion,
    RecruitmentTarget,
    TrainingCompletion,
)


class EnablementError(Exception):
    """A refusal with an HTTP status, a machine code and words a person understands."""

    def __init__(self, message: str, *, code: str, status: int = 409):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def relationship_defaults_install(program: Program) -> None:
    """RULEBOOK §10's curriculum, playbook, profile and target for ``program`` (idempotent)."""
    presets.install(
        program,
        {
            "CertificationType": CertificationType,
            "Milestone": Milestone,
            "CoMarketingActivity": CoMarketingActivity,
            "ProfileCriterion": ProfileCriterion,
            "RecruitmentTarget": RecruitmentTarget,
        },
    )


@transaction.atomic
def certification_award(
    *,
    partner: Partner,
    user: User,
    certification: CertificationType | str,
    issued_on: date,
    expires_on: date | None = None,
    awarded_by: User | None = None,
) -> Certification:
    """Record that one of the partner's people passed a certification.

    ``expires_on`` defaults to the type's validity from ``issued_on``.
    """
    if isinstance(certification, str):
        cert_type = CertificationType.objects.filter(slug=certification, is_active=True).first()
        if cert_type is None:
            slugs = ", ".join(
                CertificationType.objects.filter(is_active=True).values_list("slug", flat=True)
            )
            raise ValidationError(
                {"certification": f"No certification {certification!r}; known: {slugs}."}
            )
    else:
        cert_type = certification
    if not PartnerUser.objects.filter(user=user, partner=partner).exists():
        raise ValidationError({"user": f"{user} does not work for {partner}."})
    expires_on = expires_on or add_months(issued_on, cert_type.validity_months)
    if expires_on <= issued_on:
        raise ValidationError({"expires_on": "A certification must expire after it is issued."})
    try:
        with transaction.atomic():
            certification = Certification.objects.create(
                partner=partner,
                user=user,
                certification_type=cert_type,
                issued_on=issued_on,
                expires_on=expires_on,
                awarded_by=awarded_by,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"certification": f"{user} already holds {cert_type} issued on {issued_on}."}
        ) from exc
    _complete_proven(
        partner,
        Q(milestone__certification_type=cert_type),
        on=issued_on,
        note=f"{cert_type} awarded to {user}",
    )
    return certification


def login_day_record(*, user: User, day: date) -> bool:
    """Note that a partner person signed in to the portal on ``day`` (once per day).

    Returns whether a new day was recorded. Vendor staff and people without a partner
    are ignored.
    """
    partner_id = PartnerUser.objects.filter(user=user).values_list("partner_id", flat=True).first()
    if partner_id is None:
        return False
    created = LoginDay.objects.bulk_create(
        [LoginDay(user=user, partner_id=partner_id, day=day)], ignore_conflicts=True
    )
    return bool(created and created[0].pk)


def login_days_import(*, partner: Partner, user: User, days: Iterable[date]) -> int:
    """Days on which one of the partner's people signed in, from before this system (an
    import of history; the portal records each new day itself). Days already known are
    skipped; returns the days added."""
    _member_of(partner, user)
    days = sorted(set(days))
    if days and days[-1] > timezone.localdate():
        raise ValidationError({"days": "A sign-in day cannot be in the future."})
    known = set(LoginDay.objects.filter(user=user, day__in=days).values_list("day", flat=True))
    new = [LoginDay(user=user, partner=partner, day=day) for day in days if day not in known]
    LoginDay.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    return len(new)


def login_days_roll_up(*, now: datetime, dry_run: bool = False) -> int:
    """Sum the portal-login days older than ``LOGIN_DAY_RETENTION_DAYS`` (never fewer than
    ``LOGIN_DAYS_ALWAYS_KEPT``) per partner and month into ``LoginMonth``, and delete the
    day rows; whole months only, the oldest first, each month in one transaction (so a
    month is either still in days or summed, never both). Returns the day rows rolled up
    (``dry_run``: counts them only).

    A day row written later for a month already summed (an import of old sign-ins) is
    added to the month's sum, at most up to the month's length."""
    from prm.retention import delete_in_batches

    from .queries import LOGIN_DAYS_ALWAYS_KEPT

    kept = max(timedelta(days=settings.LOGIN_DAY_RETENTION_DAYS), LOGIN_DAYS_ALWAYS_KEPT)
    before = (timezone.localdate(now) - kept).replace(day=1)  # months before this go
    old = LoginDay.objects.filter(day__lt=before)
    if dry_run:
        return old.count()
    total = 0
    while (first := old.order_by("day").values_list("day", flat=True).first()) is not None:
        month = first.replace(day=1)
        next_month = add_months(month, 1)
        with transaction.atomic():
            days = LoginDay.objects.filter(day__gte=month, day__lt=next_month)
            for row in days.values("partner_id").annotate(
                n=Count("day", distinct=True), people=Count("user", distinct=True)
            ):
                summed, created = LoginMonth.objects.select_for_update().get_or_create(
                    partner_id=row["partner_id"],
                    month=month,
                    defaults={"login_days": row["n"], "people": row["people"]},
                )
                if not created:
                    length = (next_month - month).days
                    summed.login_days = min(length, summed.login_days + row["n"])
                    summed.people += row["people"]
                    summed.save(update_fields=["login_days", "people"])
            total += delete_in_batches(days, dry_run=False)
    return total


def _member_of(partner: Partner, user: User) -> None:
    if not PartnerUser.objects.filter(user=user, partner=partner).exists():
        raise ValidationError({"user": f"{user} does not work for {partner}."})


@transaction.atomic
def training_completion_record(
    *, partner: Partner, user: User, course: str, completed_on: date, recorded_by: User | None
) -> TrainingCompletion:
    course = (course or "").strip()
    if not course:
        raise ValidationError({"course": "Name the course."})
    _member_of(partner, user)
    completion, _ = TrainingCompletion.objects.get_or_create(
        user=user,
        course=course,
        completed_on=completed_on,
        defaults={"partner": partner, "recorded_by": recorded_by},
    )
    _complete_proven(
        partner, Q(milestone__name__iexact=course), on=completed_on, note=f"{user} completed it"
    )
    return completion


@transaction.atomic
def event_attendance_record(
    *, partner: Partner, user: User, event: str, attended_on: date, recorded_by: User | None
) -> EventAttendance:
    event = (event or "").strip()
    if not event:
        raise ValidationError({"event": "Name the event."})
    _member_of(partner, user)
    attendance, _ = EventAttendance.objects.get_or_create(
        user=user,
        event=event,
        attended_on=attended_on,
        defaults={"partner": partner, "recorded_by": recorded_by},
    )
    return attendance


# ---------------------------------------------------------------- certification reminders


def certifications_remind_expiring(*, today: date | None = None) -> int:
    """Remind each holder 30 days before a certification expires, once, unless it was
    renewed (a later certification of the same type). Safe to run twice."""
    today = today or timezone.localdate()
    expiring = (
        Certification.objects.select_related("user", "partner", "certification_type")
        .filter(
            expires_on=today + timedelta(days=rules.REMINDER_DAYS),
            reminded_at__isnull=True,
            user__is_active=True,
        )
        .exclude(
            Exists(
                Certification.objects.filter(
                    user_id=OuterRef("user_id"),
                    certification_type_id=OuterRef("certification_type_id"),
                    expires_on__gt=OuterRef("expires_on"),
                )
            )
        )
    )
    count = 0
    for certification in expiring:
        with transaction.atomic():
            claimed = Certification.objects.filter(
                pk=certification.pk, reminded_at__isnull=True
            ).update(reminded_at=timezone.now())
            if not claimed:
                continue
            notice_send(
                partner=certification.partner,
                user=certification.user,
                level="warning",
                kind=NoticeKind.ENABLEMENT,
                message=gettext_noop(
                    "Your %(certification)s expires on %(day)s. Renew it to stay certified."
                ),
                params={
                    "certification": str(certification.certification_type),
                    "day": date_value(certification.expires_on),
                },
                link="/portal/certifications/",
                email_subject=gettext_noop("Your %(certification)s expires in 30 days"),
            )
            count += 1
    return count


# ---------------------------------------------------------------- recruitment


def _criteria(program: Program) -> list[rules.Criterion]:
    return [
        rules.Criterion(c.field, c.test, c.value, c.points)
        for c in ProfileCriterion.objects.filter(program=program)
    ]


APPLICATION_FIELDS = (
    "company_name",
    "domain",
    "country",
    "partner_type",
    "employees",
    "annual_revenue",
    "customers_in_segment",
    "technical_staff",
    "contact_name",
    "contact_email",
    "contact_phone",
    "motivation",
)


@transaction.atomic
def application_submit(*, program: Program | None = None, **fields) -> PartnerApplication:
    """A company applies through the public form; scored against the ideal profile."""
    program = program or default_program()
    unknown = set(fields) - set(APPLICATION_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    application = PartnerApplication(program=program, **fields)
    application.domain = normalize_host(application.domain or "")
    application.contact_email = (application.contact_email or "").strip().lower()
    application.full_clean(exclude=["fit_score", "fit_details"])
    if "." not in application.domain:
        raise ValidationError(
            {"domain": gettext("Enter your company's web domain, like example.com.")}
        )
    try:
        partner_domain_check(application.domain)
    except ValidationError as exc:
        raise ValidationError(
            {"domain": gettext("This company is already a partner; ask your channel manager.")}
        ) from exc
    pending = PartnerApplication.objects.filter(
        domain=application.domain,
        status__in=[
            ApplicationStatus.APPLIED,
            ApplicationStatus.QUALIFIED,
            ApplicationStatus.AGREEMENT_SIGNED,
        ],
    )
    if pending.exists():
        raise ValidationError(
            {"domain": gettext("An application for this company is already being reviewed.")}
        )
    values = {field: getattr(application, field) for field in APPLICATION_FIELDS}
    score, lines = rules.fit_score(values, _criteria(program))
    application.fit_score = score
    application.fit_details = [
        {"criterion": line.criterion, "met": line.met, "points": line.points} for line in lines
    ]
    application.save()
    return application


def _locked_application(application: PartnerApplication) -> PartnerApplication:
    return PartnerApplication.objects.select_for_update().get(pk=application.pk)


def _wrong_state(application: PartnerApplication, action: str) -> EnablementError:
    return EnablementError(
        f"This application is {application.get_status_display().lower()}; it cannot be {action}.",
        code="wrong_state",
    )


@transaction.atomic
def application_qualify(*, application: PartnerApplication, by: User) -> PartnerApplication:
    application = _locked_application(application)
    if application.status != ApplicationStatus.APPLIED:
        raise _wrong_state(application, "qualified")
    application.qualify(by=by, at=timezone.now())
    application._change_reason = "Qualified"
    application.save()
    return application


@transaction.atomic
def application_approve(
    *,
    application: PartnerApplication,
    by: User,
    agreement_signed_on: date | None = None,
    channel_manager: User | None = None,
    base_url: str = "",
) -> PartnerApplication:
    """The agreement is signed: create the partner (onboarding, starting today), invite
    the applicant as its admin and lay out its onboarding plan."""
    application = _locked_application(application)
    if application.status == ApplicationStatus.QUALIFIED:
        application.sign(signed_on=agreement_signed_on or timezone.localdate())
    if application.status != ApplicationStatus.AGREEMENT_SIGNED:
        raise _wrong_state(application, "approved")
    partner = partner_create(
        name=application.company_name,
        domain=application.domain,
        program=application.program,
        status=PartnerStatus.ONBOARDING,
        agreement_signed_on=application.agreement_signed_on,
        started_on=timezone.localdate(),
        channel_manager=channel_manager or application.channel_manager,
        created_by=by,
    )
    first, _, last = application.contact_name.partition(" ")
    partner_user_invite(
        partner=partner,
        email=application.contact_email,
        role=PartnerRole.ADMIN,
        first_name=first[:150],
        last_name=last[:150],
        invited_by=by,
        base_url=base_url,
    )
    application.approve(by=by, at=timezone.now(), partner=partner)
    application._change_reason = "Approved"
    application.save()
    onboarding_plan_create(partner=partner)
    return application


@transaction.atomic
def application_activate(*, application: PartnerApplication, by: User) -> PartnerApplication:
    """Onboarding is over: the partner becomes active."""
    application = _locked_application(application)
    if application.status != ApplicationStatus.ONBOARDING or application.partner is None:
        raise _wrong_state(application, "activated")
    partner_update(partner=application.partner, changed_by=by, status=PartnerStatus.ACTIVE)
    application.activate()
    application._change_reason = "Activated"
    application.save()
    return application


@transaction.atomic
def application_decline(
    *, application: PartnerApplication, by: User, reason: str
) -> PartnerApplication:
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the application is declined."})
    application = _locked_application(application)
    if application.status not in (
        ApplicationStatus.APPLIED,
        ApplicationStatus.QUALIFIED,
        ApplicationStatus.AGREEMENT_SIGNED,
    ):
        raise _wrong_state(application, "declined")
    application.decline(by=by, at=timezone.now(), reason=reason.strip())
    application._change_reason = "Declined"
    application.save()
    email = application.contact_email
    subject = f"Your application to the {application.program.name}"
    body = (
        f"Thank you for applying, {application.contact_name}.\n\n"
        f"We are not able to take {application.company_name} into the program now: "
        f"{reason.strip()}\n"
    )
    mail_on_commit(subject, body, email)
    return application


# ---------------------------------------------------------------- onboarding


@transaction.atomic
def onboarding_plan_create(*, partner: Partner, start: date | None = None) -> int:
    """Lay out the program's curriculum for the partner, due from its start date
    (idempotent: a milestone already in the plan keeps its dates)."""
    start = start or partner.started_on
    milestones = Milestone.objects.filter(program_id=partner.program_id)
    created = OnboardingTask.objects.bulk_create(
        [
            OnboardingTask(partner=partner, milestone=m, due_on=rules.due_on(start, m.due_days))
            for m in milestones
        ],
        ignore_conflicts=True,
    )
    return len(created)


@dataclass(frozen=True)
class Proof:
    """A fact that proves an onboarding step, found by the app that records it."""

    on: date
    note: str


@transaction.atomic
def onboarding_plan_backfill(
    *, partner: Partner, events: dict[str, Proof] | None = None
) -> tuple[int, int]:
    """The plan of a partner that started before onboarding plans were kept: the
    curriculum due from its start date, each step its data already proves completed on the
    date of the proof (its certifications and courses, its first campaign, and ``events``,
    the higher apps' facts by ``AutoEvent``: first registration, first MDF activity, first
    QBR held). A partner that has a plan already is left as it is. Returns the steps
    created and completed."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if OnboardingTask.objects.filter(partner=partner).exists():
        return 0, 0
    created = onboarding_plan_create(partner=partner)
    proofs: list[tuple[Q, Proof]] = []
    for type_id, name, first in (
        Certification.objects.filter(partner=partner)
        .values_list("certification_type_id", "certification_type__name")
        .annotate(first=Min("issued_on"))
        .order_by("first")
    ):
        proofs.append(
            (Q(milestone__certification_type_id=type_id), Proof(first, f"{name} awarded"))
        )
    for course, first in (
        TrainingCompletion.objects.filter(partner=partner)
        .values_list("course")
        .annotate(first=Min("completed_on"))
        .order_by("first")
    ):
        proofs.append((Q(milestone__name__iexact=course), Proof(first, "Course completed")))
    campaign = Campaign.objects.filter(partner=partner).order_by("created_at").first()
    found = dict(events or {})
    if campaign is not None:
        on = timezone.localdate(campaign.created_at)
        if AutoEvent.FIRST_CAMPAIGN not in found or on < found[AutoEvent.FIRST_CAMPAIGN].on:
            found[AutoEvent.FIRST_CAMPAIGN] = Proof(on, f"Campaign “{campaign.name}”")
    for event, proof in found.items():
        if event not in AutoEvent.values:
            raise ValueError(f"Unknown onboarding event {event!r}.")
        proofs.append((Q(milestone__auto_event=event), proof))
    completed = sum(
        _complete_proven(partner, match, on=proof.on, note=proof.note) for match, proof in proofs
    )
    return created, completed


@transaction.atomic
def onboarding_task_complete(
    *, task: OnboardingTask, by: User | None, on: date | None = None, note: str = ""
) -> OnboardingTask:
    task = OnboardingTask.objects.select_for_update().get(pk=task.pk)
    if task.completed_on is not None:
        raise EnablementError(
            f"“{task.milestone}” was completed on {task.completed_on:%d %b %Y}.", code="done"
        )
    task.completed_on = on or timezone.localdate()
    task.completed_by = by
    task.note = (note or "")[:300]
    task._change_reason = "Completed"
    task.save()
    return task


def _complete_proven(partner: Partner, match: Q, *, on: date, note: str) -> int:
    """Complete the partner's open tasks whose milestone the data just proved."""
    count = 0
    for task in OnboardingTask.objects.select_for_update().filter(
        match, partner=partner, completed_on__isnull=True
    ):
        task.completed_on = on
        task.completed_automatically = True
        task.note = note[:300]
        task._change_reason = "Completed by data"
        task.save()
        count += 1
    return count


@transaction.atomic
def onboarding_event(
    *, partner: Partner, event: str, on: date | None = None, note: str = ""
) -> int:
    """Something data can prove happened (RULEBOOK §10: first registration, first
    campaign, first QBR): the matching milestones complete themselves."""
    if event not in AutoEvent.values:
        raise ValueError(f"Unknown onboarding event {event!r}.")
    return _complete_proven(
        partner,
        Q(milestone__auto_event=event),
        on=on or timezone.localdate(),
        note=note or AutoEvent(event).label,
    )


# ---------------------------------------------------------------- content library


# A library file is a document or an image; a video is a link (``ContentItem.url``).
CONTENT_KINDS = {
    extension: UPLOAD_KINDS[extension]
    for extension in ("pdf", "png", "jpg", "jpeg", "csv", "xlsx", "pptx", "docx")
}


def content_file_check(file) -> Upload:
    """Refuse a library file that is empty, too large, of a kind not accepted or not what
    its extension says (``prm.uploads``); give an accepted one its safe name."""
    upload = upload_from(file, default_name="content", kinds=CONTENT_KINDS)
    problem = upload_problem(upload, kinds=CONTENT_KINDS)
    if problem:
        raise ValidationError({"file": problem})
    file.name = upload.name
    return upload


def content_open(*, item: ContentItem, user: User, partner: Partner) -> ContentItem:
    """Record that one of the partner's people opened an item their tier may see."""
    if not item.published or item.program_id != partner.program_id:
        raise EnablementError(gettext("No such content."), code="not_found", status=404)
    if partner.tier.rank < item.min_tier_rank:
        raise EnablementError(
            gettext("This content is for higher tiers."), code="tier_too_low", status=403
        )
    ContentDownload.objects.create(item=item, partner=partner, user=user)
    return item


# ---------------------------------------------------------------- co-marketing


@transaction.atomic
def campaign_create(
    *,
    partner: Partner,
    by: User | None,
    activity: CoMarketingActivity,
    name: str,
    starts_on: date,
    ends_on: date,
    expected_leads: int | None = None,
    notes: str = "",
) -> Campaign:
    """A co-marketing campaign from the playbook; its expected leads default to the
    middle of the play's range. The partner's first completes its onboarding milestone."""
    if activity.program_id != partner.program_id:
        raise ValidationError(
            {"activity": gettext("Choose an activity of your program's playbook.")}
        )
    if expected_leads is None:
        low, high = activity.leads_low or 0, activity.leads_high or 0
        expected_leads = (low + high) // 2
    campaign = Campaign(
        partner=partner,
        activity=activity,
        name=(name or "").strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        expected_leads=expected_leads,
        notes=(notes or "").strip(),
        created_by=by,
        status=CampaignStatus.RUNNING
        if starts_on <= timezone.localdate() <= ends_on
        else CampaignStatus.PLANNED,
    )
    campaign.full_clean()
    campaign.save()
    onboarding_event(
        partner=partner,
        event=AutoEvent.FIRST_CAMPAIGN,
        on=timezone.localdate(),
        note=f"Campaign “{campaign.name}”",
    )
    return campaign


@transaction.atomic
def campaign_lead_record(
    *, campaign: Campaign, by: User | None, company_name: str, contact_email: str = ""
) -> CampaignLead:
    lead = CampaignLead(
        campaign=campaign,
        company_name=(company_name or "").strip(),
        contact_email=(contact_email or "").strip().lower(),
        recorded_by=by,
    )
    lead.full_clean()
    lead.save()
    return lead


@transaction.atomic
def campaign_set_status(*, campaign: Campaign, status: str, by: User | None) -> Campaign:
    if status not in CampaignStatus.values:
        raise ValidationError({"status": f"Choose one of {', '.join(CampaignStatus.values)}."})
    campaign.status = status
    campaign._change_reason = f"Status {status} by {by}" if by else f"Status {status}"
    campaign.save(update_fields=["status"])
    return campaign
