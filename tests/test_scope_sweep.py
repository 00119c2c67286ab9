"""The isolation sweep: a partner user gets 404 for another partner's objects, everywhere.

Every URL pattern of the portal and the API that takes an object id is found by walking
the URL resolver, so a new page or endpoint is swept without being listed here. Each
URL argument must map to a model: DRF viewsets say it through ``queryset`` (and
``partner_pk`` is always a partner); portal views through ``prm.views.scoped``. A
pattern whose argument maps to nothing fails the sweep until it is declared.
"""

import functools
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import MultiWidget
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from deals.models import ConflictCase, Deal
from enablement.models import (
    Campaign,
    Certification,
    CoMarketingActivity,
    EventAttendance,
    TrainingCompletion,
)
from incentives.models import (
    Contribution,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfFund,
    MdfProof,
    MdfRequest,
)
from integrations.models import Event, WebhookDelivery, WebhookSubscription
from integrations.webhooks import secret_generate
from partners.models import Account, Lead, Partner, PartnerUser, RedFlag, User
from scoring.models import JointBusinessPlan, Qbr, QbrActionItem, Scorecard, ScorecardDispute

from .factories import (
    AccountFactory,
    CertificationFactory,
    ConflictCaseFactory,
    DealFactory,
    LeadFactory,
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerUserFactory,
    RedFlagFactory,
    ScorecardFactory,
)

pytestmark = pytest.mark.django_db

# Namespaces and names outside the partner-facing faces: the admin has its own sweep,
# allauth's arguments are tokens or identity providers' names (single sign-on), not object ids.
SKIP_NAMESPACES = {"admin"}
# ``export`` names a dashboard table (its rows are scoped by the dashboard's own tests).
SKIP_ARGUMENTS = {"format", "uidb36", "key", "export", "provider_id", "organization_slug"}


@dataclass
class Route:
    name: str
    callback: object
    arguments: list[str]

    @property
    def viewset(self):
        return getattr(self.callback, "cls", None)

    def model_for(self, argument: str):
        if argument == "partner_pk":
            return Partner
        declared = getattr(self.callback, "scope_models", {})
        if argument in declared:
            return declared[argument]
        viewset = self.viewset
        if (
            viewset is not None
            and argument == getattr(viewset, "lookup_url_kwarg", None)
            or (viewset is not None and argument == "pk")
        ):
            return viewset.queryset.model
        return None

    def methods(self) -> list[str]:
        actions = getattr(self.callback, "actions", None)
        if actions:
            allowed = set(getattr(self.viewset, "http_method_names", actions))
            return sorted({m.upper() for m in actions if m in allowed} - {"HEAD", "OPTIONS"})
        return ["GET", "POST"]


def walk(patterns, namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or namespace
            if inner in SKIP_NAMESPACES:
                continue
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            arguments = [a for a in entry.pattern.regex.groupindex if a not in SKIP_ARGUMENTS]
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name, entry.callback, arguments)


def object_routes() -> list[Route]:
    routes = {}
    for route in walk(get_resolver().url_patterns):
        if getattr(route.viewset, "shared_resource", False) or getattr(
            route.callback, "shared_resource", False
        ):
            continue  # the same for every partner (e.g. programs, the content library)
        if route.arguments:
            routes[route.name] = route
    return sorted(routes.values(), key=lambda r: r.name)


def list_routes() -> list[Route]:
    routes = {}
    for route in walk(get_resolver().url_patterns):
        viewset = route.viewset
        actions = getattr(route.callback, "actions", {}) or {}
        if getattr(viewset, "shared_resource", False):
            continue  # the same for every partner (e.g. programs)
        if not route.arguments and viewset is not None and actions.get("get") == "list":
            routes[route.name] = route
    return sorted(routes.values(), key=lambda r: r.name)


def objects_of(partner: Partner) -> dict:
    """One object of every scoped model, belonging to ``partner``."""
    member = PartnerUserFactory(partner=partner)
    certification = CertificationFactory(partner=partner, user=member.user)
    entry = LedgerEntryFactory(partner=partner)
    claim = IncentiveClaim.objects.create(
        partner=partner, amount=entry.amount, verify_by=date(2026, 12, 1)
    )
    entry.claim = claim
    entry.save()
    fund = MdfFundFactory(partner=partner)
    mdf_request = MdfRequestFactory(fund=fund)
    mdf_claim = MdfClaim.objects.create(
        request=mdf_request, partner=partner, actual_cost=100, leads_generated=1
    )
    qbr = Qbr.objects.create(
        partner=partner,
        quarter="2026Q4",
        cadence="quarterly",
        scheduled_for=date(2026, 10, 20),
        shared_with_partner=True,  # even shared, it is only its own partner's
    )
    QbrActionItem.objects.create(qbr=qbr, text="Send the plan", owner=member.user)
    subscription = WebhookSubscription.objects.create(
        partner=partner, url=f"https://hooks.{partner.domain}/prm", secret=secret_generate()
    )
    event = Event.objects.create(partner=partner, kind="deal.won", data={"partner_id": partner.pk})
    scorecard = ScorecardFactory(partner=partner)
    return {
        WebhookSubscription: subscription,
        # Ended, so that a redelivery that got through would show.
        WebhookDelivery: WebhookDelivery.objects.create(
            subscription=subscription, event=event, status="failed", attempts=6
        ),
        Campaign: Campaign.objects.create(
            partner=partner,
            activity=CoMarketingActivity.objects.filter(program=partner.program).first(),
            name="Joint webinar",
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 1),
            expected_leads=100,
        ),
        LedgerEntry: LedgerEntryFactory(partner=partner, kind="award", claim_by=None),
        IncentiveClaim: claim,
        Contribution: Contribution.objects.create(
            partner=partner, kind="reference", title="A reference"
        ),
        MdfFund: fund,
        MdfRequest: mdf_request,
        MdfClaim: mdf_claim,
        MdfProof: MdfProof.objects.create(
            claim=mdf_claim,
            file=ContentFile(b"%PDF-1.4 proof", name="proof.pdf"),
            name="proof.pdf",
            size=14,
            content_type="application/pdf",
        ),
        Partner: partner,
        PartnerUser: member,
        User: member.user,
        Account: AccountFactory(owning_partner=partner),
        Lead: LeadFactory(partner=partner),
        Certification: certification,
        Deal: DealFactory(partner=partner),
        ConflictCase: ConflictCaseFactory(partner=partner),
        RedFlag: RedFlagFactory(partner=partner),
        Scorecard: scorecard,
        # Open, so that an answer that got through would show.
        ScorecardDispute: ScorecardDispute.objects.create(
            scorecard=scorecard, raised_by=member.user, reason="Swept", raised_at=timezone.now()
        ),
        Qbr: qbr,
        JointBusinessPlan: JointBusinessPlan.objects.create(
            partner=partner, fiscal_year=2026, revenue_goal=100000
        ),
        TrainingCompletion: TrainingCompletion.objects.create(
            user=member.user, partner=partner, course="Deep dive", completed_on=date(2026, 1, 5)
        ),
        EventAttendance: EventAttendance.objects.create(
            user=member.user, partner=partner, event="Summit", attended_on=date(2026, 1, 5)
        ),
    }


def url_value(route: Route, argument: str, obj) -> object:
    viewset = route.viewset
    if argument != "partner_pk" and viewset is not None:
        field = getattr(viewset, "lookup_field", "pk")
        return getattr(obj, field)
    return obj.pk


def test_every_object_route_declares_its_models():
    routes = object_routes()
    assert routes, "the resolver walk found no routes"
    undeclared = [
        f"{route.name}({argument})"
        for route in routes
        for argument in route.arguments
        if route.model_for(argument) is None
    ]
    assert not undeclared, f"declare the model of these URL arguments: {undeclared}"


# Customer accounts and CRM leads are the vendor's own records: every manager sees them
# (and changes only their own partners': the write pass below).
VENDOR_WIDE = {Account, Lead}


@pytest.mark.parametrize("route", object_routes(), ids=lambda r: r.name)
@pytest.mark.parametrize("who", ["a_admin", "a_rep", "manager"])
def test_user_gets_404_for_other_partners_objects(route, who, request, partner_a, partner_b, api):
    user = request.getfixturevalue(who)
    if who == "manager" and {route.model_for(arg) for arg in route.arguments} & VENDOR_WIDE:
        pytest.skip("accounts and leads are vendor-wide for managers")
    own_partner = partner_a
    theirs = objects_of(partner_b)
    mine = objects_of(own_partner)
    snapshots = {model: model_to_dict(obj) for model, obj in theirs.items()}

    # Every argument pointing at the other partner's objects; and, for nested routes,
    # our own partner with their child object, so the child lookup is scoped too.
    combos = [{arg: url_value(route, arg, theirs[route.model_for(arg)]) for arg in route.arguments}]
    if "partner_pk" in route.arguments and len(route.arguments) > 1:
        combo = {
            arg: url_value(route, arg, theirs[route.model_for(arg)]) for arg in route.arguments
        }
        combo["partner_pk"] = own_partner.pk
        combos.append(combo)
    assert mine  # own objects exist, so a 404 is not an empty database

    client = api(user)
    client.force_login(user)  # portal pages use the session
    for kwargs in combos:
        url = reverse(route.name, kwargs=kwargs)
        for method in route.methods():
            response = client.generic(
                method, url, data="{}", content_type="application/json", follow=False
            )
            assert response.status_code == 404, f"{method} {url} → {response.status_code}"

    for model, obj in theirs.items():
        obj.refresh_from_db()
        assert model_to_dict(obj) == snapshots[model], f"{model.__name__} changed"


@pytest.mark.parametrize("route", list_routes(), ids=lambda r: r.name)
def test_lists_never_show_other_partners_rows(route, a_admin, partner_b, api):
    theirs = objects_of(partner_b)
    if "partner_pk" in route.arguments:
        pytest.skip("nested lists are covered by the 404 sweep")
    model = route.viewset.queryset.model
    response = api(a_admin).get(reverse(route.name) + "?limit=1000")
    assert response.status_code == 200
    ids = {row.get("id") for row in response.json()["results"]}
    if model in theirs:
        assert theirs[model].pk not in ids


# ---------------------------------------------------------------- the admin
#
# Every model registered with the admin site is either swept here for a channel manager
# (its changelist, every URL of its ModelAdmin that takes an object, and every admin
# action, on another manager's partner's row) or declared program-wide below with the
# reason. A new ModelAdmin fails ``test_every_admin_model_is_swept_or_declared`` until it
# is one or the other.

# Rows that belong to no partner: the same for every staff member who may open them.
ADMIN_PROGRAM_WIDE = {
    "auth.Group": "permission groups",
    "partners.ApiToken": "API tokens: each person's own; only administrators see everyone's",
    "mfa.Authenticator": "two-factor devices: no staff role holds its permissions",
    "axes.AccessAttempt": "failed sign-ins: no staff role holds its permissions",
    "axes.AccessLog": "sign-ins: no staff role holds its permissions",
    "axes.AccessFailureLog": "failed sign-ins: no staff role holds its permissions",
    "account.EmailAddress": "login e-mail addresses: no staff role holds its permissions",
    # Single sign-on decides who signs in as whom: administrators only (integrations.permissions;
    # tests/test_sso.py shows managers and chiefs refused).
    "integrations.SsoSetup": "single sign-on set-ups: administrators only",
    "socialaccount.SocialAccount": "logins' links to identity providers: administrators only",
    "django_celery_beat.PeriodicTask": "the schedule",
    "django_celery_beat.ClockedSchedule": "the schedule",
    "django_celery_beat.CrontabSchedule": "the schedule",
    "django_celery_beat.SolarSchedule": "the schedule",
    "django_celery_beat.IntervalSchedule": "the schedule",
    "partners.Program": "program rules",
    "partners.Tier": "program rules",
    "partners.ProgramVersion": "program rules: versions, chiefs and admins only "
    "(tests/test_admin_program_versions.py shows the others refused)",
    "partners.ExchangeRate": "the rate table finance keeps for every program",
    "partners.RoutingRule": "program rules: lead routing, the same for every partner",
    "partners.User": "every login: only roles that see all partners may open it",
    # Read by every manager; who writes them is swept by the write pass (ADMIN_VENDOR_WIDE).
    "partners.Account": "customer accounts are the vendor's own records",
    "partners.Lead": "CRM leads are the vendor's own records",
    "enablement.CertificationType": "program data",
    "enablement.PartnerApplication": "the recruitment pipeline, before a partner exists",
    "enablement.ProfileCriterion": "program data",
    "enablement.RecruitmentTarget": "program data",
    "enablement.Milestone": "program data",
    "enablement.ContentItem": "the content library",
    "enablement.CoMarketingActivity": "the co-marketing playbook",
    "deals.Product": "the product list",
    "scoring.QuarterClose": "one run per quarter for the whole program",
    "scoring.CompanyRevenue": "the company's own revenue",
    "integrations.CrmConnection": "the CRM connections: administrators only",
    "integrations.FieldMapping": "the CRM field mappings: administrators only",
}

# URL arguments of custom admin views other than the object's id, and the values swept.
ADMIN_URL_ARGUMENT_VALUES = {
    "decision": lambda model_admin: list(model_admin.FORMS),
    "what": lambda model_admin: list(model_admin.ACTS),
}
# Answered with the form data of every intermediate page of an admin action, so that an
# action that reached a row would really act on it.
ADMIN_ACTION_DATA = {
    "confirmed": "yes",
    "reason": "Swept",
    "answer": "Swept",
    "text": "Swept",
    "resolution": "Swept",
    "agreement_signed_on": "2026-01-05",
    "held_on": "2026-01-05",
}


def admin_objects_of(partner: Partner) -> dict:
    """``objects_of`` plus the rows only the admin shows."""
    from enablement.models import LoginDay, Milestone, OnboardingTask
    from integrations.models import CrmConnection, SyncError, SyncRecord
    from partners.models import OutreachTask, TierChange

    objects = objects_of(partner)
    member = objects[PartnerUser]
    flag = objects[RedFlag]
    milestone = Milestone.objects.filter(program=partner.program).first()
    objects.update(
        {
            TierChange: TierChange.objects.create(
                partner=partner, to_tier=partner.tier, cause="override", reason="Swept"
            ),
            OutreachTask: OutreachTask.objects.create(
                partner=partner, red_flag=flag, title="Call them", due_on=date(2026, 12, 1)
            ),
            LoginDay: LoginDay.objects.create(
                user=member.user, partner=partner, day=date(2026, 1, 5)
            ),
            OnboardingTask: OnboardingTask.objects.create(
                partner=partner, milestone=milestone, due_on=date(2026, 12, 1)
            ),
            SyncRecord: SyncRecord.objects.create(
                connection=CrmConnection.objects.get_or_create(provider="salesforce")[0],
                object_type="partner",
                local_id=partner.pk,
                partner=partner,
                state="synced",
            ),
            SyncError: SyncError.objects.create(
                connection=CrmConnection.objects.get_or_create(provider="salesforce")[0],
                object_type="deal",
                local_id=objects[Deal].pk,
                partner=partner,
                state="error",
                error="REQUIRED_FIELD_MISSING: Required fields are missing: [StageName]",
            ),
        }
    )
    return objects


def admin_registry():
    from django.contrib import admin

    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def admin_swept_models() -> list:
    return [model for model, _ in admin_registry() if model._meta.label not in ADMIN_PROGRAM_WIDE]


def admin_object_urls(model_admin, obj) -> tuple[list[str], list[str]]:
    """Every URL of ``model_admin`` about ``obj``, and the arguments nobody declared."""
    urls, undeclared = [], []
    for pattern in model_admin.get_urls():
        regex = pattern.pattern.regex
        if not regex.groups or not pattern.name:
            continue
        if not regex.groupindex:  # django-simple-history's version page: (id, version)
            version = obj.history.order_by("-history_id").first()
            urls.append(reverse(f"admin:{pattern.name}", args=[obj.pk, version.history_id]))
            continue
        variants = [{}]
        for argument in regex.groupindex:
            if argument in ("object_id", "pk"):
                values = [obj.pk]
            elif argument in ADMIN_URL_ARGUMENT_VALUES:
                values = ADMIN_URL_ARGUMENT_VALUES[argument](model_admin)
            else:
                undeclared.append(f"{pattern.name}({argument})")
                values = []
            variants = [{**v, argument: value} for v in variants for value in values]
        urls += [reverse(f"admin:{pattern.name}", kwargs=kwargs) for kwargs in variants]
    return urls, undeclared


def test_every_admin_model_is_swept_or_declared(partner_b):
    theirs = admin_objects_of(partner_b)
    fixtures = {model._meta.label for model in theirs}
    missing = [
        model._meta.label for model in admin_swept_models() if model._meta.label not in fixtures
    ]
    assert not missing, (
        "add a row of these admin models to admin_objects_of(), or declare them in "
        f"ADMIN_PROGRAM_WIDE with the reason: {missing}"
    )
    stale = set(ADMIN_PROGRAM_WIDE) - {model._meta.label for model, _ in admin_registry()}
    assert not stale, f"no longer registered: {stale}"
    undeclared = []
    for model, model_admin in admin_registry():
        if model in admin_swept_models():
            undeclared += admin_object_urls(model_admin, theirs[model])[1]
    assert not undeclared, f"declare these admin URL arguments: {undeclared}"


def _partner_rows(theirs: dict) -> dict:
    """What must not change: every row of the other partner, and how many rows it has."""
    snapshot = {model: model_to_dict(obj) for model, obj in theirs.items()}
    for model in theirs:
        if model is not Partner and any(f.name == "partner" for f in model._meta.fields):
            snapshot[(model, "count")] = model._default_manager.filter(
                partner=theirs[Partner]
            ).count()
    return snapshot


def _rows_now(theirs: dict, before: dict) -> dict:
    for obj in theirs.values():
        obj.refresh_from_db()
    return _partner_rows(theirs) if before else {}


@pytest.mark.parametrize("model", admin_swept_models(), ids=lambda m: m._meta.label)
def test_manager_cannot_see_or_act_on_other_managers_partners_in_the_admin(
    model, manager, partner_a, partner_b, client
):
    from django.contrib import admin

    model_admin = admin.site._registry[model]
    mine, theirs = admin_objects_of(partner_a), admin_objects_of(partner_b)
    before = _partner_rows(theirs)
    client.force_login(manager)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    # The changelist lists the manager's own partner's rows, never the other's.
    response = client.get(reverse(f"{name}_changelist"))
    assert response.status_code in (200, 403), response.status_code
    if response.status_code == 200:
        listed = set(response.context_data["cl"].queryset.values_list("pk", flat=True))
        assert theirs[model].pk not in listed
        assert mine[model].pk in listed, "the manager's own row should be listed"

    # Every page about the other partner's row: change, history, its versions, delete,
    # and the admin's own views (decide, act, invite).
    urls, _ = admin_object_urls(model_admin, theirs[model])
    assert urls
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url, ADMIN_ACTION_DATA if method == "post" else {})
            assert response.status_code in (403, 404), (
                f"{method.upper()} {url} → {response.status_code}"
            )

    # Every admin action, run on the other partner's row, changes nothing.
    request = RequestFactory().get("/admin/")
    request.user = manager
    for action in model_admin.get_actions(request):
        response = client.post(
            reverse(f"{name}_changelist"),
            {
                "action": action,
                "_selected_action": [theirs[model].pk],
                "index": 0,
                **ADMIN_ACTION_DATA,
            },
        )
        assert response.status_code in (200, 302, 403, 404), f"{action} → {response.status_code}"
        assert _rows_now(theirs, before) == before, f"{action} changed the other partner's rows"

    # Adding a row for the other partner (where the admin adds rows) is refused too.
    add = reverse(f"{name}_add")
    data = {
        key: (value.pk if hasattr(value, "pk") else value)
        for key, value in model_to_dict(theirs[model]).items()
        if value is not None and not isinstance(value, list)
    }
    response = client.post(add, data)
    assert response.status_code in (200, 302, 400, 403, 404), response.status_code
    assert _rows_now(theirs, before) == before


# ---------------------------------------------------------------- the write pass
#
# Every write the API's router answers (each viewset's create, update, partial update and
# delete, and each of its POST actions, found by walking ``prm.urls.router``) is sent by
# every role on the objects of a partner that is not theirs to write: partner B, managed
# by ``other_manager``. B's objects are answered 404 where the role cannot read them and
# 403 where it reads but may not change them; a write on the collection that names B's
# objects in its body is refused (403, 404, or 400 on exactly those fields). And nothing
# changes, anywhere: every object of both partners and the row count of every model.
#
# The body of each write is built from the OpenAPI schema, i.e. from what the endpoint
# says it accepts, so a new endpoint or a new field is swept without being listed here. A
# body field that holds an id must be declared below with what it refers to, or the sweep
# fails until it is. ``test_each_swept_write_is_accepted_in_scope`` sends the same bodies
# as B's own manager or admin and expects them accepted, so a refusal above is about
# scope, not about a body the endpoint would refuse anyway.

WRITE_METHODS = {"post", "put", "patch", "delete"}
# Roles that may write nothing of partner B's: a partner person of A, A's manager, the
# read-only roles, and a signed-in user with no role at all.
OUT_OF_SCOPE_WRITERS = ["a_admin", "a_rep", "manager", "executive", "finance", "outsider"]
# Writes a role may make on every partner's objects, by the API's own rules.
ROLE_WRITES_EVERYWHERE = {
    ("ledger-pay", "finance"): "finance marks any partner's approved entries paid",
}

# Body fields holding the id of one of B's objects (the scope of a write is also what it
# names): how to find that object among ``write_objects_of(partner)``.
SCOPE_REFERENCES = {
    "partner": lambda objects: objects[Partner].pk,
    "owning_partner": lambda objects: objects[Partner].pk,
    "other_partner": lambda objects: objects[Partner].pk,
    "channel_manager": lambda objects: objects[Partner].channel_manager_id,
    "user": lambda objects: objects[PartnerUser].user_id,
    "account": lambda objects: objects[Account].pk,
    "campaign": lambda objects: objects[Campaign].pk,
    "request": lambda objects: objects["approved MDF request"].pk,
    "mdf_request": lambda objects: objects["approved MDF request"].pk,
    "entries": lambda objects: objects["claimable entry"].pk,
}
# Body fields holding the id of something every partner shares.
SHARED_REFERENCES = {"program": lambda objects: objects[Partner].program_id}
# Integer body fields that are quantities, not ids.
PLAIN_NUMBERS = {"contract_years", "csat", "expected_leads", "leads_generated"}
# Values a field's type alone would not make valid.
BODY_VALUES = {
    "domain": "swept-write.example",
    "customer_domain": "swept-write.example",
    "tier": "gold",
    "certification": "demo",
    "username": "swept-writer",
    "password": "Correct-Horse-Battery-9",
    "is_active": False,
    "reserve": "100.00",
}
# A proof file, where a body takes files (sent as a small PDF).
PROOF_FILE = "<proof file>"
# Dates a rule wants in the future; other dates are ten days ago.
FUTURE_DATES = {"expected_close", "starts_on", "ends_on", "expires_on"}


def write_objects_of(partner: Partner) -> dict:
    """``objects_of`` plus what a write may name that no other sweep needs: an accrued
    SPIFF nobody has claimed yet and an approved MDF activity without a claim."""
    from incentives.services.mdf import fiscal_year_of, mdf_request_approve

    objects = objects_of(partner)
    objects["claimable entry"] = LedgerEntryFactory(partner=partner)
    # A request for an activity in FUTURE_DATES draws on the fund of that day's year.
    today = timezone.localdate()
    year = fiscal_year_of(partner.program, today + timedelta(days=30))
    if year != objects[MdfFund].fiscal_year:
        objects["next year's fund"] = MdfFundFactory(partner=partner, fiscal_year=year)
    approved = mdf_request_approve(
        request=MdfRequestFactory(fund=objects[MdfFund]), by=partner.channel_manager
    )
    # ...and the activity has taken place since, so that it can be claimed.
    MdfRequest.objects.filter(pk=approved.pk).update(
        starts_on=today - timedelta(days=6), ends_on=today - timedelta(days=5)
    )
    approved.refresh_from_db()
    objects["approved MDF request"] = approved
    return objects


@dataclass
class Write:
    name: str
    basename: str
    method: str
    action: str
    detail: bool
    route: Route

    def __str__(self) -> str:
        return f"{self.name} {self.method}"

    def url(self, objects: dict) -> str:
        kwargs = {
            arg: url_value(self.route, arg, objects[self.route.model_for(arg)])
            for arg in self.route.arguments
        }
        return reverse(self.name, kwargs=kwargs)

    def read_url(self, objects: dict) -> str | None:
        """Where the role reads the object the write is about, if the URL names one."""
        route = self.route
        if self.detail:
            kwargs = {
                arg: url_value(route, arg, objects[route.model_for(arg)]) for arg in route.arguments
            }
            return reverse(f"{self.basename}-detail", kwargs=kwargs)
        if "partner_pk" in route.arguments:
            return reverse("partner-detail", kwargs={"pk": objects[Partner].pk})
        return None

    def target(self, objects: dict):
        if self.detail:
            return objects[self.route.model_for(self.route.arguments[-1])]
        return None


def api_writes() -> list[Write]:
    from prm.urls import router

    writes = {}
    for pattern in router.urls:
        groups = pattern.pattern.regex.groupindex
        viewset = getattr(pattern.callback, "cls", None)
        if not getattr(pattern.callback, "actions", None) or "format" in groups:
            continue  # the API root and the ``.json`` duplicates of each route
        if getattr(viewset, "shared_resource", False):
            continue  # the same for every partner: no partner's scope to leave
        allowed = set(viewset.http_method_names)
        initkwargs = pattern.callback.initkwargs
        route = Route(pattern.name, pattern.callback, list(groups))
        for method, action in pattern.callback.actions.items():
            if method in WRITE_METHODS and method in allowed:
                write = Write(
                    name=pattern.name,
                    basename=initkwargs["basename"],
                    method=method.upper(),
                    action=action,
                    detail=bool(initkwargs.get("detail")),
                    route=route,
                )
                writes[str(write)] = write
    return sorted(writes.values(), key=str)


@functools.cache
def _openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(public=True)


def _resolve(node: dict) -> dict:
    components = _openapi()["components"]["schemas"]
    while True:
        if "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        elif "allOf" in node:
            node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        elif "oneOf" in node:
            node = node["oneOf"][0]
        else:
            return node


def request_schema(url: str, method: str) -> tuple[dict, set, str]:
    """The body fields the OpenAPI schema says ``method url`` accepts, the required ones,
    and the media type it takes them in."""
    paths = sorted(_openapi()["paths"].items(), key=lambda item: item[0].count("{"))
    for path, operations in paths:
        if method.lower() in operations and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", path), url):
            content = operations[method.lower()].get("requestBody", {}).get("content", {})
            for media, described in content.items():
                body = _resolve(described["schema"])
                writable = {
                    name: prop
                    for name, prop in body.get("properties", {}).items()
                    if not prop.get("readOnly")
                }
                return writable, set(body.get("required", [])), media
            return {}, set(), "application/json"
    raise AssertionError(f"{method} {url} is not in the OpenAPI schema")


def body_value(name: str, prop: dict, objects: dict, target) -> object:
    prop = _resolve(prop)
    if name in SCOPE_REFERENCES or name in SHARED_REFERENCES:
        value = {**SCOPE_REFERENCES, **SHARED_REFERENCES}[name](objects)
        return [value] if prop.get("type") == "array" else value
    if name in BODY_VALUES:
        return BODY_VALUES[name]
    kind, form = prop.get("type"), prop.get("format")
    if "enum" in prop:
        # A value other than the object's own, so that a write that got through shows.
        choices = [choice for choice in prop["enum"] if choice not in ("", None)]
        current = getattr(target, name, None)
        return next((choice for choice in choices if choice != current), choices[0])
    if kind == "array":
        items = _resolve(prop.get("items", {}))
        assert items.get("type") != "integer", f"declare what the ids in {name!r} refer to"
        return [PROOF_FILE] if items.get("format") == "binary" else []
    if kind == "integer":
        assert name in PLAIN_NUMBERS, (
            f"declare the body field {name!r}: an id (SCOPE_REFERENCES or SHARED_REFERENCES) "
            "or a quantity (PLAIN_NUMBERS)"
        )
        return max(1, prop.get("minimum", 1))
    if kind == "boolean":
        return not getattr(target, name, False)
    today = timezone.localdate()
    if form == "date":
        return str(today + timedelta(days=30) if name in FUTURE_DATES else today - timedelta(10))
    if form == "date-time":
        return (timezone.now() - timedelta(days=1)).isoformat()
    if form == "decimal":
        return "100.00"
    if form == "email":
        return "swept@vendor.example"
    if form == "uri":
        return "https://swept.example/"
    return "Swept"


def write_body(write: Write, url: str, objects: dict) -> tuple[dict, set, str]:
    """The body to send, which of its fields name one of B's objects, and its media type.
    A partial update changes every field it may; a create sends its required fields, every
    reference and every file."""
    properties, required, media = request_schema(url, write.method)
    if write.method in ("PATCH", "PUT"):
        names = set(properties)
    else:
        names = required | (set(properties) & set(SCOPE_REFERENCES))
        names |= {name for name, prop in properties.items() if "binary" in json.dumps(prop)}
    target = write.target(objects)
    body = {name: body_value(name, properties[name], objects, target) for name in sorted(names)}
    return body, names & set(SCOPE_REFERENCES), media


def _world(*sides: dict) -> dict:
    """Every row of every model the sides hold objects of, as stored: one query a model
    (the test database holds only what the test made, and the program's own data)."""
    from enablement.models import CampaignLead, OnboardingTask
    from partners.models import Notice, TierChange

    models = {CampaignLead, OnboardingTask, Notice, TierChange}
    models |= {type(obj) for side in sides for obj in side.values()}
    return {
        # A sign-in stamps ``last_login``: that is the test signing in, not a write.
        model: [
            {key: value for key, value in row.items() if key != "last_login"}
            for row in model._default_manager.order_by("pk").values()
        ]
        for model in sorted(models, key=lambda model: model._meta.label)
    }


def _refused(response, *, expected: int | None, references: set) -> bool:
    if expected is not None:  # the URL names B's object: 404 unread, 403 read
        return response.status_code == expected
    if response.status_code in (403, 404):
        return True
    if response.status_code == 400:
        errors = response.json()
        # Refused for naming B's objects, not for a body the endpoint would refuse anyway.
        return set(errors) <= references and bool(set(errors))
    return False


def _send(client, method: str, url: str, body: dict, media: str):
    if media == "multipart/form-data":
        files = {
            name: [SimpleUploadedFile("proof.pdf", b"%PDF-1.4 proof", "application/pdf")]
            for name, value in body.items()
            if value == [PROOF_FILE]
        }
        data = encode_multipart(BOUNDARY, {**body, **files})
        return client.generic(method, url, data=data, content_type=MULTIPART_CONTENT)
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("write", api_writes(), ids=str)
def test_no_role_writes_another_managers_partners_objects_through_the_api(
    write, request, partner_b, api
):
    if not write.detail and "partner_pk" not in write.route.arguments:
        properties, _, _ = request_schema(reverse(write.name), write.method)
        if not set(properties) & set(SCOPE_REFERENCES):
            pytest.skip("names no partner's object: a caller writes it for their own partner")
    users = {who: request.getfixturevalue(who) for who in OUT_OF_SCOPE_WRITERS}
    theirs = write_objects_of(partner_b)
    url = write.url(theirs)
    body, references, media = write_body(write, url, theirs)
    before = _world(theirs)
    read_url = write.read_url(theirs)
    failures = []
    for who, user in users.items():
        if (write.name, who) in ROLE_WRITES_EVERYWHERE:
            continue
        client = api(user)
        expected = None
        if read_url is not None:
            expected = 404 if client.get(read_url).status_code == 404 else 403
        response = _send(client, write.method, url, body, media)
        after = _world(theirs)
        if not _refused(response, expected=expected, references=references):
            failures.append(f"{who}: {response.status_code} {response.content[:300]!r}")
        elif after != before:
            changed = [model._meta.label for model in before if before[model] != after[model]]
            failures.append(f"{who}: {response.status_code}, but this changed: {changed}")
        before = after  # so that each failure is told once, by the role that made it
    assert not failures, f"{write.method} {url} {body}:\n" + "\n".join(failures)


# Writes whose body B's own people cannot send as built, with the reason.
IN_SCOPE_CONTROL_EXEMPT: dict[str, str] = {}


@pytest.mark.parametrize(
    "write",
    [w for w in api_writes() if not w.detail and not w.name.endswith("-pay")]
    + [w for w in api_writes() if w.action in ("partial_update", "update")],
    ids=str,
)
def test_each_swept_write_is_accepted_in_scope(write, partner_b, b_admin, other_manager, api):
    if str(write) in IN_SCOPE_CONTROL_EXEMPT:
        pytest.skip(IN_SCOPE_CONTROL_EXEMPT[str(write)])
    theirs = write_objects_of(partner_b)
    url = write.url(theirs)
    body, _, media = write_body(write, url, theirs)
    answers = []
    for user in (other_manager, b_admin):
        response = _send(api(user), write.method, url, body, media)
        if response.status_code < 300:
            return
        answers.append(f"{user.username}: {response.status_code} {response.content[:300]!r}")
    pytest.fail(f"{write.method} {url} {body} is refused even in scope:\n" + "\n".join(answers))


# ---------------------------------------------------------------- the write pass: admin
#
# Every admin model whose add or change form a channel manager has (on any row) is posted
# by A's manager, finance and an executive on partner B's row: the change form filled with
# the manager's own row's values, and the add form filled with B's row's values. The
# change is 404 where the role cannot read B's row and 403 where it can; the add is 403,
# or the form shown again with errors on exactly the fields that name B (its partner, its
# people, its channel manager). Nothing changes. ``test_each_admin_form_is_accepted_in_
# scope`` posts the same add form as B's own manager and expects it saved, so a refusal is
# about scope, not about data the form would refuse anyway.

# Read by every manager (the read sweep above declares them program-wide), written only
# by the partners' own managers: swept here.
ADMIN_VENDOR_WIDE = {"partners.Account", "partners.Lead"}
ADMIN_WRITERS = ["manager", "executive", "finance"]
# Values of the add form that must differ from B's own row's (unique in the database).
ADMIN_ADD_VALUES = {
    "domain": "swept-add.example",
    "fiscal_year": 2031,
    "quarter": "2031Q1",
    "scheduled_for": date(2031, 1, 21),
    "issued_on": lambda: timezone.localdate() - timedelta(days=1),
    "course": "Swept course",
    "event": "Swept event",
}


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def admin_write_models() -> list:
    """Admin models with a partner's rows whose add or change form a channel manager has."""
    from django.contrib import admin

    manager = User(role="channel_manager", is_staff=True, is_active=True)
    request = _admin_request(manager)
    return [
        model
        for model, model_admin in admin_registry()
        if (model in admin_swept_models() or model._meta.label in ADMIN_VENDOR_WIDE)
        and (model_admin.has_add_permission(request) or model_admin.has_change_permission(request))
        and admin.site._registry[model] is model_admin
    ]


def _scope_fields(form) -> set:
    """The fields of ``form`` that name a partner or one of its people or managers."""
    from django.forms import ModelChoiceField

    return {
        name
        for name, field in form.fields.items()
        if isinstance(field, ModelChoiceField) and field.queryset.model in (Partner, User)
    }


def _add_form_data(client, model, row) -> dict:
    """What B's own manager would post to add a row like ``row``: the add form as shown
    to them (with its formsets' management forms), holding ``row``'s values."""
    from tests.admin_forms import change_form_data

    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    page = client.get(reverse(f"{name}_add"))
    assert page.status_code == 200, f"{name}_add → {page.status_code}"
    data = change_form_data(page)
    values = model_to_dict(row)
    form = page.context["adminform"].form
    for field in form.fields:
        value = ADMIN_ADD_VALUES.get(field, values.get(field))
        value = value() if callable(value) else value
        if isinstance(value, list):
            value = [item.pk for item in value]
        if value is None:
            continue
        widget = form[field].field.widget
        if isinstance(widget, MultiWidget):  # a date and a time, each in its own input
            data.pop(field, None)
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                data[f"{field}{suffix}"] = part
        else:
            data[field] = value
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize("model", admin_write_models(), ids=lambda m: m._meta.label)
def test_no_role_writes_another_managers_partners_rows_in_the_admin(
    model, request, partner_a, partner_b, other_manager, client
):
    from django.contrib import admin

    from tests.admin_forms import change_form_data

    users = {who: request.getfixturevalue(who) for who in ADMIN_WRITERS}
    model_admin = admin.site._registry[model]
    mine, theirs = admin_objects_of(partner_a), admin_objects_of(partner_b)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    change_url = reverse(f"{name}_change", args=[theirs[model].pk])
    client.force_login(other_manager)
    add_data = {}
    if model_admin.has_add_permission(_admin_request(other_manager)):
        add_data = _add_form_data(client, model, theirs[model])
    before = _world(mine, theirs)
    failures = []
    for who, user in users.items():
        client.force_login(user)
        admin_request = _admin_request(user)
        readable = model_admin.get_queryset(admin_request).filter(pk=theirs[model].pk).exists()
        # A role that may change no row of the model at all is refused before any lookup.
        changes_some = model_admin.has_change_permission(admin_request)
        # The change form of B's row, posted with the values of the manager's own row.
        own = reverse(f"{name}_change", args=[mine[model].pk])
        data = {}
        if model_admin.has_change_permission(admin_request, mine[model]):
            data = change_form_data(client.get(own))
        response = client.post(change_url, data)
        if response.status_code != (403 if readable or not changes_some else 404):
            failures.append(f"{who}: POST {change_url} → {response.status_code}")
        # The add form, holding B's row's values.
        response = client.post(reverse(f"{name}_add"), add_data)
        if response.status_code in (200, 400) and response.context:
            form = response.context["adminform"].form
            if not form.errors or set(form.errors) - _scope_fields(form):
                failures.append(f"{who}: add refused for {dict(form.errors)}, not for scope")
        elif response.status_code != 403:
            failures.append(f"{who}: POST add → {response.status_code}")
        after = _world(mine, theirs)
        if after != before:
            changed = [m._meta.label for m in before if before[m] != after[m]]
            failures.append(f"{who}: changed {changed}")
        before = after
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("model", admin_write_models(), ids=lambda m: m._meta.label)
def test_each_admin_form_is_accepted_in_scope(model, partner_b, other_manager, client):
    from django.contrib import admin

    model_admin = admin.site._registry[model]
    if not model_admin.has_add_permission(_admin_request(other_manager)):
        pytest.skip("no add form: rows come from elsewhere")
    theirs = admin_objects_of(partner_b)
    client.force_login(other_manager)
    data = _add_form_data(client, model, theirs[model])
    rows = model._default_manager.count()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    response = client.post(reverse(f"{name}_add"), data)
    errors = response.context["adminform"].form.errors if response.context else ""
    assert response.status_code == 302, f"{response.status_code} {errors} {data}"
    assert model._default_manager.count() == rows + 1


@pytest.mark.parametrize(
    "who", ["manager", "other_manager", "chief", "vendor_admin", "executive", "finance", "a_admin"]
)
def test_the_write_scope_is_one_rule(who, request, partner_a, partner_b):
    """``manages_partner`` (one partner, no query: the API's and the admin's checks) and
    ``partners_writable_by`` (the queryset: forms, serializers, accounts and leads) agree,
    for a partner of each manager and one with no manager."""
    from partners.permissions import manages_partner
    from partners.queries import partners_writable_by

    from .factories import PartnerFactory

    user = request.getfixturevalue(who)
    for partner in (partner_a, partner_b, PartnerFactory(channel_manager=None)):
        writable = partners_writable_by(user).filter(pk=partner.pk).exists()
        assert manages_partner(user, partner) == writable, (who, partner.name)
