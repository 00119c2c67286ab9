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
