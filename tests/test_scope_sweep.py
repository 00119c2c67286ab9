"""The isolation sweep: a partner user gets 404 for another partner's objects, everywhere.

Every URL pattern of the portal and the API that takes an object id is found by walking
the URL resolver, so a new page or endpoint is swept without being listed here. Each
URL argument must map to a model: DRF viewsets say it through ``queryset`` (and
``partner_pk`` is always a partner); portal views through ``prm.views.scoped``. A
pattern whose argument maps to nothing fails the sweep until it is declared.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

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
from partners.models import Account, Lead, Partner, PartnerUser, RedFlag, User
from scoring.models import JointBusinessPlan, Qbr, QbrActionItem, Scorecard

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
# allauth's arguments are tokens, not object ids.
SKIP_NAMESPACES = {"admin"}
# ``export`` names a dashboard table (its rows are scoped by the dashboard's own tests).
SKIP_ARGUMENTS = {"format", "uidb36", "key", "export"}


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
    return {
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
        Scorecard: ScorecardFactory(partner=partner),
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


# Customer accounts and CRM leads are the vendor's own records: every manager sees them.
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
    "django_celery_beat.PeriodicTask": "the schedule",
    "django_celery_beat.ClockedSchedule": "the schedule",
    "django_celery_beat.CrontabSchedule": "the schedule",
    "django_celery_beat.SolarSchedule": "the schedule",
    "django_celery_beat.IntervalSchedule": "the schedule",
    "partners.Program": "program rules",
    "partners.Tier": "program rules",
    "partners.User": "every login: only roles that see all partners may open it",
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
    "text": "Swept",
    "resolution": "Swept",
    "agreement_signed_on": "2026-01-05",
    "held_on": "2026-01-05",
}


def admin_objects_of(partner: Partner) -> dict:
    """``objects_of`` plus the rows only the admin shows."""
    from enablement.models import LoginDay, Milestone, OnboardingTask
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
