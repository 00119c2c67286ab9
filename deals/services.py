"""Every write of the deals app: registration, approval, extension, win/loss, expiry and
channel-conflict cases (RULEBOOK §4, §5, §9). The portal, the API, the admin and the
scheduled jobs all call these functions.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from enablement.services import onboarding_event
from incentives.services.ledger import deal_incentives_accrue
from incentives.services.mdf import MDF_SOURCING_STATUSES
from integrations.models import EventKind
from integrations.services import event_publish
from partners.models import (
    Account,
    NoticeKind,
    Partner,
    PartnerStatus,
    Program,
    RedFlag,
    RedFlagKind,
    TierChangeCause,
    User,
)
from partners.queries import account_matching
from partners.services import (
    account_merge,
    accounts_set_separate,
    customer_domain_key,
    notice_send,
    partner_set_tier,
)
from partners.services.currencies import Converted, RateMissing, to_reporting
from partners.services.leads import lead_convert
from prm.audit import audited
from prm.deferred_text import date_value, text_value
from prm.mail import mail_on_commit
from prm.money import MAX_DEAL_AMOUNT, currency_code, format_money
from prm.normalize import NotADomain, normalize_company_name, registrable_domain
from prm.quarters import Quarter
from prm.roles import Role

from . import rules
from .models import (
    CompensationModel,
    ConflictCase,
    ConflictScenario,
    Deal,
    DealQuarter,
    DealStatus,
    DealType,
    EscalationStep,
    Product,
    SummarizedQuarter,
)
from .queries import (
    CustomerCheck,
    closed_in,
    customer_check,
    open_on,
    outcome_figures,
    pipeline_figures,
    protecting_deal,
    won_deal_facts,
)

OPEN = (DealStatus.PENDING, DealStatus.APPROVED)


class DealError(Exception):
    """A refusal with a status code, a machine code and words a partner understands."""

    def __init__(self, message: str, *, code: str, status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


# ---------------------------------------------------------------- helpers


def _money(value, field: str, *, most: Decimal) -> Decimal:
    """A positive amount of at most ``most`` (the program's maximum deal amount)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: gettext("Enter an amount such as 25000.00.")}) from exc
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        raise ValidationError({field: gettext("Enter an amount with at most two decimals.")})
    if amount < rules.MIN_DEAL_AMOUNT:
        raise ValidationError({field: gettext("The amount must be more than zero.")})
    if amount > most:
        raise ValidationError(
            {
                field: gettext("The amount may be at most %(most)s in this program.")
                % {"most": f"{most:,.2f}"}
            }
        )
    return amount


def _currency(value, program: Program) -> str:
    """The deal's currency: an active ISO 4217 code, or the program's when none is given."""
    if value is None or str(value).strip() == "":
        return program.currency
    try:
        return currency_code(value)
    except ValueError:
        raise ValidationError(
            {
                "currency": gettext(
                    "“%(value)s” is not an ISO 4217 currency code (such as USD, EUR or GBP)."
                )
                % {"value": str(value)[:20]}
            }
        ) from None


def _in_reporting(amount: Decimal, currency: str, program: Program, day: date) -> Converted:
    """``amount`` in the program's reporting currency at the rate of ``day``, within the
    program's maximum deal amount (which is in the reporting currency). ``ValidationError``
    naming the currency and the day when finance has entered no rate for it."""
    try:
        converted = to_reporting(amount, currency, base=program.currency, day=day)
    except RateMissing as exc:
        raise ValidationError({"currency": exc.messages}) from exc
    if converted.reporting_amount > program.max_deal_amount:
        raise ValidationError(
            {
                "amount": gettext("The amount may be at most %(most)s in this program.")
                % {"most": format_money(program.max_deal_amount, program.currency)}
            }
        )
    return converted


def _rate(value, field: str, low: Decimal, high: Decimal) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError({field: "Enter a share such as 0.30."}) from exc
    if not low <= rate <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return rate


def _account_for_registration(*, name: str, domain: str) -> Account:
    """The customer's account, created if new; safe when two registrations create it at once."""
    found = account_matching(name=name, domain=domain)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Account.objects.create(name=name.strip(), domain=domain.strip())
    except IntegrityError:
        # Someone created it a moment ago; theirs is ours.
        found = account_matching(name=name, domain=domain)
        if found is None:
            raise
        return found


def _expire_lapsed_on_account(account: Account, *, today: date) -> None:
    """Protections that ended before today but the daily job has not marked yet."""
    for deal in Deal.objects.filter(
        account=account, status=DealStatus.APPROVED, expires_on__lt=today
    ):
        deal.expire(at=timezone.now())
        deal._change_reason = gettext_noop("Protection lapsed")
        deal.save()
        _publish(deal, EventKind.DEAL_EXPIRED)


def _notify_managers(partner: Partner, subject: str, body: str) -> None:
    recipients = []
    if partner.channel_manager_id and partner.channel_manager.email:
        recipients.append(partner.channel_manager.email)
    if recipients:
        mail_on_commit(subject, body, recipients)


def _chief_emails() -> list[str]:
    return list(
        User.objects.filter(role=Role.CHANNEL_CHIEF, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


# ---------------------------------------------------------------- registration


def _registration_facts(
    partner: Partner, check, *, at: datetime, live: bool, keys: rules.CustomerKeys
) -> rules.RegistrationFacts:
    """The facts RULEBOOK §4's checks decide on, for the hint and the registration alike."""
    signed = partner.agreement_signed_on is not None and partner.agreement_signed_on <= at.date()
    probable = ""
    if check.probable_deal_id is not None:
        probable = rules.review_reason(keys, rules.CustomerKeys(*check.probable_keys))
    return rules.RegistrationFacts(
        partner_active=partner.status == PartnerStatus.ACTIVE,
        agreement_signed=signed,
        cert_lapsed=live
        and RedFlag.objects.filter(
            partner=partner, kind=RedFlagKind.CERT_LAPSED, status=RedFlag.Status.OPEN
        ).exists(),
        lead_existed_before=check.lead_before,
        held_by_another_partner=check.holder_partner_id not in (None, partner.pk),
        held_by_this_partner=check.holder_partner_id == partner.pk,
        probably_held_by_another=probable,
    )


def account_status_for(partner: Partner, *, customer_name: str, customer_domain: str) -> dict:
    """What the registration form tells a partner while typing, decided by the same checks
    as the registration itself, so the two never disagree (RULEBOOK §4).

    ``state``: ``unknown`` (nothing typed yet), ``invalid`` (``message`` says why the domain
    is not one), ``refused`` (the partner cannot register now: ``message``), ``taken``
    (rejected if registered: ``message``; never who holds it, nor whether it is a lead or
    another partner), ``yours`` (a duplicate), ``review`` (held for a manager: probably a
    customer another partner holds), or ``free``. ``direct`` (the partner's credit would
    be 40%) and ``new`` only where the registration would go ahead.
    """
    try:
        domain_key = registrable_domain(customer_domain)
    except NotADomain as exc:
        return {
            "state": "invalid",
            "message": gettext("This is not a domain: %(why)s.") % {"why": exc.args[0]},
        }
    name_key = normalize_company_name(customer_name)
    if not domain_key and not name_key:
        return {"state": "unknown"}
    now = timezone.now()
    check = customer_check(partner_id=partner.pk, domain_key=domain_key, name_key=name_key, at=now)
    decision = rules.decide_registration(
        _registration_facts(
            partner, check, at=now, live=True, keys=rules.CustomerKeys(domain_key, name_key)
        )
    )
    if decision.outcome != rules.Outcome.PENDING:
        state = {
            rules.Reason.DUPLICATE: "yours",
            rules.Reason.EXISTING_LEAD: "taken",
            rules.Reason.REGISTERED_BY_ANOTHER_PARTNER: "taken",
        }.get(decision.reason, "refused")
        return {"state": state, "message": decision.message}
    return {
        "state": "review" if decision.review_reason else "free",
        "direct": check.direct,
        "direct_share": partner.program.direct_conflict_partner_share,
        "new": check.account_id is None,
    }


@audited
def deal_register(
    *,
    partner: Partner,
    submitted_by: User | None,
    customer_name: str,
    customer_domain: str = "",
    amount,
    expected_close: date,
    deal_type: str,
    compensation_model: str,
    products: Iterable[Product] = (),
    contract_years: int = 1,
    notes: str = "",
    co_sell_partner_share=None,
    oem_discount=None,
    submitted_at: datetime | None = None,
    approved_at: datetime | None = None,
    mdf_request=None,
    currency: str | None = None,
) -> Deal:
    """Register a deal for ``partner`` (RULEBOOK §4), race-safe.

    ``amount`` is in ``currency`` (ISO 4217; default: the program's reporting currency). It
    is converted into the reporting currency at the rate of the submission's day and the
    result stored with the rate (RULEBOOK §12); a missing rate refuses the registration.

    ``mdf_request``: the partner's approved MDF activity that sourced the deal, if any
    (it counts towards the activity's return on investment).

    ``submitted_at`` in the past is an import of history (a manager moving from another
    PRM): every check is judged as of that moment, and a registration whose approval or
    protection would already have ended is stored approved or expired accordingly.

    Raises ``DealError`` for refusals that store nothing (403: partner cannot register;
    400: duplicate). Rejections (existing lead, another partner first) are stored and
    returned with status ``rejected``. A probable same customer of another partner's is
    stored ``pending`` with ``needs_review`` for a manager to decide.
    """
    now = timezone.now()
    program = partner.program
    customer_name = (customer_name or "").strip()
    customer_domain = (customer_domain or "").strip()
    at = submitted_at or now
    live = submitted_at is None
    _check_registration(
        partner=partner,
        customer_name=customer_name,
        customer_domain=customer_domain,
        deal_type=deal_type,
        compensation_model=compensation_model,
        contract_years=contract_years,
        expected_close=expected_close,
        mdf_request=mdf_request,
        live=live,
        now=now,
    )
    currency = _currency(currency, program)
    amount, co_sell_partner_share, oem_discount = _registration_terms(
        program,
        amount=amount,
        compensation_model=compensation_model,
        co_sell_partner_share=co_sell_partner_share,
        oem_discount=oem_discount,
        same_currency=currency == program.currency,
    )
    _check_registration_times(at=at, approved_at=approved_at, now=now)
    converted = _in_reporting(amount, currency, program, timezone.localdate(at))

    with transaction.atomic():
        account, check, decision = _decide_on_locked_account(
            partner, name=customer_name, domain=customer_domain, at=at, live=live
        )
        if decision.outcome == rules.Outcome.REFUSED:
            raise DealError(decision.message, code=decision.reason, status=decision.http_status)

        deal = Deal(
            partner=partner,
            account=account,
            customer_name=customer_name,
            customer_domain=customer_domain,
            amount=amount,
            currency=currency,
            amount_reporting=converted.reporting_amount,
            amount_rate=converted.rate,
            amount_rate_day=converted.rate_day,
            expected_close=expected_close,
            deal_type=deal_type,
            compensation_model=compensation_model,
            contract_years=contract_years,
            notes=notes,
            submitted_at=at,
            submitted_by=submitted_by,
            direct_conflict=decision.outcome == rules.Outcome.PENDING and bool(account.direct_rep),
            co_sell_partner_share=co_sell_partner_share
            if compensation_model == CompensationModel.CO_SELL
            else None,
            oem_discount=oem_discount if compensation_model == CompensationModel.OEM else None,
            imported=not live,
            mdf_request=mdf_request,
            needs_review=bool(decision.review_reason),
            review_reason=decision.review_reason,
            review_match_id=check.probable_deal_id if decision.review_reason else None,
        )
        if decision.outcome == rules.Outcome.REJECTED:
            deal.reject(by=None, at=at, reason=decision.reason)
        else:
            _approve_history(
                deal, program=program, approved_at=approved_at, by=submitted_by, now=now
            )
        deal._change_reason = gettext_noop("Registered") if live else gettext_noop("Imported")
        _save_registration(deal, products)
        _after_registration(deal, decision=decision, live=live)
        if live:  # imported history is not news to webhooks and the CRM
            _publish(deal, EventKind.DEAL_REGISTERED)
            if deal.status == DealStatus.REJECTED:
                _publish(deal, EventKind.DEAL_REJECTED)
    return deal


def deal_facts(deal: Deal) -> dict:
    """What an event about a registration says (webhooks and the CRM sync send it)."""
    return {
        "deal_id": deal.pk,
        "partner_id": deal.partner_id,
        "account_id": deal.account_id,
        "customer_name": deal.customer_name,
        "customer_domain": deal.customer_domain,
        "amount": _cents(deal.amount),
        "currency": deal.currency,
        # The amounts converted once, at the rates of their days (RULEBOOK §12).
        "amount_reporting": _cents(deal.amount_reporting),
        "closed_amount_reporting": _cents(deal.closed_amount_reporting),
        "reporting_currency": deal.reporting_currency,
        "deal_type": deal.deal_type,
        "compensation_model": deal.compensation_model,
        "status": deal.status,
        "reason": deal.reason,
        "direct_conflict": deal.direct_conflict,
        "submitted_at": deal.submitted_at,
        "approved_at": deal.approved_at,
        "expires_on": deal.expires_on,
        "expected_close": deal.expected_close,
        "closed_on": deal.closed_on,
        "closed_amount": _cents(deal.closed_amount),
        "partner_credit": _cents(deal.partner_credit),
    }


def _cents(amount) -> str | None:
    """Money in an event: a string with two decimals, as the API writes it."""
    return None if amount is None else f"{Decimal(amount):.2f}"


def _publish(deal: Deal, kind: str) -> None:
    event_publish(partner_id=deal.partner_id, kind=kind, data=deal_facts(deal))


def _check_registration(
    *,
    partner: Partner,
    customer_name: str,
    customer_domain: str,
    deal_type: str,
    compensation_model: str,
    contract_years,
    expected_close: date,
    mdf_request,
    live: bool,
    now: datetime,
) -> None:
    """Refuse a registration's input, naming every field that is wrong at once."""
    errors = {}
    if not customer_name:
        errors["customer_name"] = gettext("Enter the customer's company name.")
    try:
        customer_domain_key(customer_domain, field="customer_domain")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if deal_type not in DealType.values:
        errors["deal_type"] = f"Choose one of {', '.join(DealType.values)}."
    if compensation_model not in CompensationModel.values:
        errors["compensation_model"] = f"Choose one of {', '.join(CompensationModel.values)}."
    if not isinstance(contract_years, int) or not 1 <= contract_years <= 10:
        errors["contract_years"] = gettext("Contract years must be a whole number from 1 to 10.")
    if live and expected_close < timezone.localdate(now):
        errors["expected_close"] = gettext("The expected close date cannot be in the past.")
    if mdf_request is not None and (
        mdf_request.partner_id != partner.pk or mdf_request.status not in MDF_SOURCING_STATUSES
    ):
        errors["mdf_request"] = gettext("Choose one of your approved MDF activities.")
    if errors:
        raise ValidationError(errors)


def _registration_terms(
    program: Program,
    *,
    amount,
    compensation_model: str,
    co_sell_partner_share,
    oem_discount,
    same_currency: bool = True,
) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """The amount, the co-sell partner's share and the OEM discount, within the program's
    limits (an OEM deal with no discount given gets the program's smallest). An amount in
    another currency is held to the program's maximum once converted."""
    amount = _money(
        amount, "amount", most=program.max_deal_amount if same_currency else MAX_DEAL_AMOUNT
    )
    co_sell_partner_share = _rate(co_sell_partner_share, "co_sell_partner_share", 0, 1)
    oem_discount = _rate(
        oem_discount, "oem_discount", program.oem_discount_min, program.oem_discount_max
    )
    if compensation_model == CompensationModel.OEM and oem_discount is None:
        oem_discount = program.oem_discount_min
    return amount, co_sell_partner_share, oem_discount


def _check_registration_times(*, at: datetime, approved_at: datetime | None, now: datetime) -> None:
    if at > now + timedelta(minutes=5):
        raise ValidationError({"submitted_at": "A registration cannot be submitted in the future."})
    if approved_at is not None and (approved_at < at or approved_at > now + timedelta(minutes=5)):
        raise ValidationError(
            {"approved_at": "Approval must come after submission and not in the future."}
        )


def _decide_on_locked_account(
    partner: Partner, *, name: str, domain: str, at: datetime, live: bool
) -> tuple[Account, CustomerCheck, rules.Decision]:
    """The customer's account, locked, and RULEBOOK §4's decision on registering it.

    Call inside the registration's transaction: the lock serialises every registration
    of this customer, so the checks and the insert that follows see one consistent state
    and two at once leave exactly one winner."""
    account = _account_for_registration(name=name, domain=domain)
    account = Account.objects.select_for_update().get(pk=account.pk)
    _expire_lapsed_on_account(account, today=timezone.localdate())
    check = customer_check(
        partner_id=partner.pk,
        domain_key=account.domain_key,
        name_key=account.name_key,
        at=at,
        live=live,
        account_id=account.pk,
    )
    keys = rules.CustomerKeys(account.domain_key, account.name_key)
    decision = rules.decide_registration(
        _registration_facts(partner, check, at=at, live=live, keys=keys)
    )
    return account, check, decision


def _save_registration(deal: Deal, products: Iterable[Product]) -> None:
    """Insert the registration (its products with it); refused if the database finds an
    open registration of the customer that an import out of order would contradict."""
    try:
        with transaction.atomic():
            deal.save()
    except IntegrityError as exc:
        raise DealError(
            "This customer already has an open registration from a later date; "
            "import the registrations oldest first.",
            code="conflicts_with_open_registration",
            status=409,
        ) from exc
    if products:
        deal.products.set(products)


def _approve_history(deal: Deal, *, program, approved_at, by, now) -> None:
    """For imports: approve the registration as it was, or as the SLA would have."""
    if deal.imported is False and approved_at is None:
        return
    due = rules.approval_due_at(deal.submitted_at, program.registration_sla_hours)
    if approved_at is None and due < now:
        approved_at, auto = due, True
    else:
        auto = False
    if approved_at is None:
        return
    expires_on = rules.protection_expires_on(deal.submitted_at, program.protection_days)
    # Stored approved as it was; if its protection has lapsed since, the daily job (or the
    # next registration of this customer) marks it expired like any other.
    deal.approve(by=None if auto else by, at=approved_at, expires_on=expires_on, auto=auto)


def _after_registration(deal: Deal, *, decision: rules.Decision, live: bool) -> None:
    """What a stored registration sets off, in its transaction: its conflict case if it
    has one, the notices (not for an import), the partner's quarter sums, the partner's
    accepted leads of the customer (converted: RULEBOOK §11), and the first-registration
    step of the partner's onboarding."""
    holder = (
        protecting_deal(deal.account_id, at=deal.submitted_at, live=live)
        if decision.reason == rules.Reason.REGISTERED_BY_ANOTHER_PARTNER
        else None
    )
    _open_conflict_case(deal, decision=decision, holder=holder, live=live)
    if live:
        _tell_about_registration(deal)
    _summary_apply(None, deal)
    if deal.status != DealStatus.REJECTED:
        lead_convert(
            partner_id=deal.partner_id, account=deal.account, deal_id=deal.pk, at=deal.submitted_at
        )
        onboarding_event(
            partner=deal.partner,
            event="first_registration",
            on=timezone.localdate(deal.submitted_at),
            note=f"Registered {deal.customer_name}",
        )


def _open_conflict_case(
    deal: Deal, *, decision: rules.Decision, holder: Deal | None, live: bool
) -> None:
    """The conflict case a registration opens: with the partner holding the customer,
    with the partner it probably shares the customer with, or with the vendor's direct
    rep (an import's cases are stored resolved)."""
    program = deal.partner.program
    if decision.reason == rules.Reason.REGISTERED_BY_ANOTHER_PARTNER and holder is not None:
        ConflictCase.objects.create(
            scenario=ConflictScenario.TWO_PARTNERS,
            account=deal.account,
            partner=deal.partner,
            other_partner=holder.partner,
            deal=deal,
            other_deal=holder,
            opened_at=deal.submitted_at,
            sla_due_at=deal.submitted_at + timedelta(hours=program.partner_conflict_sla_hours),
            status=ConflictCase.Status.OPEN if live else ConflictCase.Status.RESOLVED,
            resolution="" if live else "Imported: first to register kept the account.",
        )
        if live:
            _notify_managers(
                deal.partner,
                f"Registration conflict: {deal.customer_name}",
                f"{deal.partner} registered {deal.customer_name}, already held by "
                f"{holder.partner}. First to register wins; please tell {deal.partner} "
                f"within {program.partner_conflict_sla_hours} hours.",
            )
    elif deal.needs_review:
        match = Deal.objects.select_related("partner").get(pk=deal.review_match_id)
        ConflictCase.objects.create(
            scenario=ConflictScenario.TWO_PARTNERS,
            account=deal.account,
            partner=deal.partner,
            other_partner=match.partner,
            deal=deal,
            other_deal=match,
            opened_at=deal.submitted_at,
            sla_due_at=deal.submitted_at + timedelta(hours=program.partner_conflict_sla_hours),
            resolution="",
        )
        _notify_managers(
            deal.partner,
            f"Registration held for your review: {deal.customer_name}",
            f"{deal.partner} registered {deal.customer_name} ({deal.customer_domain or '-'}). "
            f"It is probably {match.customer_name} ({match.customer_domain or '-'}), which "
            f"{match.partner} registered on {timezone.localtime(match.submitted_at):%Y-%m-%d}: "
            f"{deal.get_review_reason_display().lower()}. Decide whether it is a separate "
            f"customer (approve) or the same one (reject). It is not approved automatically.",
        )
    elif deal.direct_conflict:
        ConflictCase.objects.create(
            scenario=ConflictScenario.PARTNER_VS_DIRECT,
            account=deal.account,
            partner=deal.partner,
            deal=deal,
            direct_rep=deal.account.direct_rep,
            opened_at=deal.submitted_at,
            sla_due_at=deal.submitted_at + timedelta(hours=program.registration_sla_hours),
            status=ConflictCase.Status.OPEN if live else ConflictCase.Status.RESOLVED,
            resolution="" if live else "Imported.",
        )


def _tell_about_registration(deal: Deal) -> None:
    """Tell the partner of a registration rejected or held for review, or its managers of
    one to approve."""
    program = deal.partner.program
    if deal.status == DealStatus.REJECTED:
        notice_send(
            partner=deal.partner,
            user=deal.submitted_by,
            level="warning",
            kind=NoticeKind.DEALS,
            message=gettext_noop("%(customer)s: %(reason)s"),
            params={
                "customer": deal.customer_name,
                "reason": text_value(rules.MESSAGES[deal.reason]),
            },
            link=f"/portal/deals/{deal.pk}/",
            email_subject=gettext_noop("Your registration of %(customer)s was not accepted"),
        )
    elif deal.needs_review:
        notice_send(
            partner=deal.partner,
            user=deal.submitted_by,
            level="info",
            kind=NoticeKind.DEALS,
            message=gettext_noop("%(customer)s: %(reason)s"),
            params={"customer": deal.customer_name, "reason": text_value(rules.UNDER_REVIEW)},
            link=f"/portal/deals/{deal.pk}/",
        )
    else:
        due = rules.approval_due_at(deal.submitted_at, program.registration_sla_hours)
        _notify_managers(
            deal.partner,
            f"New registration to approve: {deal.customer_name}",
            f"{deal.partner} registered {deal.customer_name} ({deal.amount} {deal.currency}). "
            f"Approve or reject by {timezone.localtime(due):%Y-%m-%d %H:%M}; after that it is "
            f"approved automatically.",
        )


# ---------------------------------------------------------------- manager decisions


def _locked(deal: Deal) -> Deal:
    return (
        Deal.objects.select_for_update()
        .select_related("partner__program", "partner__tier")
        .get(pk=deal.pk)
    )


def _wrong_state(deal: Deal, action: str) -> DealError:
    return DealError(
        f"This registration is {deal.get_status_display().lower()}, so it cannot be {action}.",
        code="invalid_status",
        status=409,
    )


def _review_case_resolve(deal: Deal, *, by: User | None, resolution: str) -> None:
    """Close the two-partner case a held registration opened, with the decision."""
    ConflictCase.objects.filter(
        deal=deal, scenario=ConflictScenario.TWO_PARTNERS, status=ConflictCase.Status.OPEN
    ).update(
        status=ConflictCase.Status.RESOLVED,
        resolution=resolution,
        resolved_by=by,
        resolved_at=timezone.now(),
    )


@audited
@transaction.atomic
def deal_approve(
    *, deal: Deal, by: User | None, at: datetime | None = None, auto: bool = False
) -> Deal:
    """Approve a pending registration. One held as a probable same customer (RULEBOOK §4)
    is never approved automatically; a manager approving it judges it a separate customer,
    and the two accounts are remembered as two."""
    deal = _locked(deal)
    if deal.status != DealStatus.PENDING:
        raise _wrong_state(deal, "approved")
    if deal.needs_review and (auto or by is None):
        raise DealError(
            "A registration held for review is approved only by a manager.",
            code="needs_review",
            status=409,
        )
    at = at or timezone.now()
    program = deal.partner.program
    deal.approve(
        by=by,
        at=at,
        expires_on=rules.protection_expires_on(deal.submitted_at, program.protection_days),
        auto=auto,
    )
    deal._change_reason = (
        gettext_noop("Approved automatically (approval SLA passed)") if auto else "Approved"
    )
    if deal.needs_review:
        deal.needs_review = False
        deal._change_reason = gettext_noop("Approved as a separate customer")
        if deal.review_match_id:
            match = Deal.objects.select_related("account").get(pk=deal.review_match_id)
            accounts_set_separate(account=deal.account, other=match.account)
        _review_case_resolve(deal, by=by, resolution=f"A separate customer: approved by {by}.")
    deal.save()
    _publish(deal, EventKind.DEAL_APPROVED)
    notice_send(
        partner=deal.partner,
        user=deal.submitted_by,
        level="success",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s is approved and protected until %(day)s."),
        params={"customer": deal.customer_name, "day": date_value(deal.expires_on)},
        link=f"/portal/deals/{deal.pk}/",
        email_subject=gettext_noop("Registration approved: %(customer)s"),
    )
    return deal


@audited
@transaction.atomic
def deal_reject(*, deal: Deal, by: User, reason: str) -> Deal:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the registration is rejected."})
    deal = _locked(deal)
    if deal.status != DealStatus.PENDING:
        raise _wrong_state(deal, "rejected")
    before = _sum_facts(deal)
    deal.reject(by=by, at=timezone.now(), reason=rules.Reason.MANAGER_REJECTED, note=reason)
    deal._change_reason = f"Rejected: {reason}"
    if deal.needs_review:
        deal.needs_review = False
        _review_case_resolve(deal, by=by, resolution=f"Rejected by {by}: {reason}")
    deal.save()
    _summary_apply(before, deal)
    _publish(deal, EventKind.DEAL_REJECTED)
    notice_send(
        partner=deal.partner,
        user=deal.submitted_by,
        level="warning",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s was not approved: %(reason)s"),
        params={"customer": deal.customer_name, "reason": reason},
        link=f"/portal/deals/{deal.pk}/",
        email_subject=gettext_noop("Registration not approved: %(customer)s"),
    )
    return deal


@audited
@transaction.atomic
def deal_review_decide(*, deal: Deal, by: User, same_customer: bool, note: str = "") -> Deal:
    """A manager decides a registration held as a probable same customer (RULEBOOK §4).

    A separate customer: approved, and the two accounts are remembered as two. The same
    customer: rejected as registered by another partner (first to register wins; the
    partner is told so, never by whom), and its account is merged into the other one, so
    that this spelling leads there next time.
    """
    deal = _locked(deal)
    if not deal.needs_review:
        raise DealError(
            "This registration is not held for review.", code="not_under_review", status=409
        )
    if not same_customer:
        return deal_approve(deal=deal, by=by)
    note = (note or "").strip()
    match = Deal.objects.select_related("account", "partner").get(pk=deal.review_match_id)
    before = _sum_facts(deal)
    deal.reject(
        by=by,
        at=timezone.now(),
        reason=rules.Reason.REGISTERED_BY_ANOTHER_PARTNER,
        note=note,
    )
    deal.needs_review = False
    deal._change_reason = gettext_noop("Rejected: the same customer as an earlier registration")
    deal.save()
    _summary_apply(before, deal)
    _publish(deal, EventKind.DEAL_REJECTED)
    _review_case_resolve(
        deal,
        by=by,
        resolution=f"The same customer as {match.customer_name} ({match.partner}), "
        f"registered first: rejected by {by}." + (f" {note}" if note else ""),
    )
    _accounts_merge(deal.account, into=match.account, reason="the same customer (review)")
    deal.refresh_from_db(fields=["account"])
    notice_send(
        partner=deal.partner,
        user=deal.submitted_by,
        level="warning",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s: %(reason)s"),
        params={
            "customer": deal.customer_name,
            "reason": text_value(rules.MESSAGES[rules.Reason.REGISTERED_BY_ANOTHER_PARTNER]),
        },
        link=f"/portal/deals/{deal.pk}/",
        email_subject=gettext_noop("Your registration of %(customer)s was not accepted"),
    )
    return deal


def _accounts_merge(account: Account, *, into: Account, reason: str) -> None:
    """Move what the deals app keeps on ``account`` to ``into``, then merge the accounts.
    Call with no open registration left on ``account``."""
    root = into.merged_into_id or into.pk
    Deal.objects.filter(account=account).update(account_id=root)
    ConflictCase.objects.filter(account=account).update(account_id=root)
    account_merge(account=account, into=into, reason=reason)


@audited
@transaction.atomic
def deal_extend(*, deal: Deal, by: User, justification: str) -> Deal:
    justification = (justification or "").strip()
    if len(justification) < 10:
        raise ValidationError(
            {"justification": gettext("Explain in a sentence why the deal needs more time.")}
        )
    deal = _locked(deal)
    why_not = rules.can_extend(
        status=deal.status,
        extended=deal.extended,
        expires_on=deal.expires_on,
        today=timezone.localdate(),
    )
    if why_not:
        raise DealError(why_not, code="cannot_extend", status=409)
    deal.expires_on = deal.expires_on + timedelta(days=deal.partner.program.extension_days)
    deal.extended = True
    deal.extension_justification = justification
    deal.extended_by, deal.extended_at = by, timezone.now()
    deal._change_reason = gettext_noop("Protection extended")
    deal.save()
    return deal


def _closed_on(value: date, deal: Deal) -> date:
    if value > timezone.localdate():
        raise ValidationError({"closed_on": gettext("The close date cannot be in the future.")})
    return value


def deal_compensation(*, deal: Deal, amount: Decimal, protected: bool) -> rules.Compensation:
    """What a win of ``amount`` earns under RULEBOOK §5, with the partner's tier and program
    as they are now (the caller records the result on the deal)."""
    partner, program = deal.partner, deal.partner.program
    return rules.compensation(
        rules.CompensationInputs(
            amount=amount,
            compensation_model=deal.compensation_model,
            deal_type=deal.deal_type,
            contract_years=deal.contract_years,
            protected=protected,
            direct_conflict=deal.direct_conflict,
            tier_margin=partner.tier.margin,
            unprotected_margin=program.unprotected_margin,
            referral_rate=partner.tier.referral_commission_rate,
            renewal_influence_rate=program.renewal_influence_rate,
            direct_conflict_partner_share=program.direct_conflict_partner_share,
            co_sell_partner_share=deal.co_sell_partner_share or program.co_sell_partner_share,
            oem_discount=deal.oem_discount,
        )
    )


@audited
@transaction.atomic
def deal_win(
    *,
    deal: Deal,
    by: User,
    amount,
    closed_on: date,
    csat: int | None = None,
    surveyed_on: date | None = None,
) -> Deal:
    """Record a win and what it earns (RULEBOOK §5), stored on the deal.

    Judged as of ``closed_on`` (RULEBOOK §4): a registration approved and unexpired that
    day was protected, even if it has expired since. A CSAT counts on ``surveyed_on``
    (default: the close date), in that quarter and in the ``low_csat`` window.
    """
    if csat is not None and (not isinstance(csat, int) or not 1 <= csat <= 5):
        raise ValidationError({"csat": gettext("CSAT is a whole number from 1 to 5.")})
    if surveyed_on is not None and csat is None:
        raise ValidationError({"surveyed_on": gettext("A survey date goes with a CSAT answer.")})
    deal = _locked(deal)
    program = deal.partner.program
    same_currency = deal.currency == program.currency
    amount = _money(
        amount, "amount", most=program.max_deal_amount if same_currency else MAX_DEAL_AMOUNT
    )
    if deal.status not in (DealStatus.PENDING, DealStatus.APPROVED, DealStatus.EXPIRED):
        raise _wrong_state(deal, "won")
    before = _sum_facts(deal)
    closed_on = _closed_on(closed_on, deal)
    converted = _in_reporting(amount, deal.currency, program, closed_on)
    if surveyed_on is not None and not closed_on <= surveyed_on <= timezone.localdate():
        raise ValidationError(
            {"surveyed_on": gettext("The survey date is between the close date and today.")}
        )
    partner = deal.partner
    protected = rules.was_protected(
        status=deal.status,
        approved_on=timezone.localdate(deal.approved_at) if deal.approved_at else None,
        expires_on=deal.expires_on,
        on=closed_on,
    )
    # What the win earns is figured on the reporting amount: it is in the reporting currency.
    result = deal_compensation(deal=deal, amount=converted.reporting_amount, protected=protected)
    deal.win(
        by=by,
        at=timezone.now(),
        closed_on=closed_on,
        amount=amount,
        reporting=converted.reporting_amount,
        rate=converted.rate,
        rate_day=converted.rate_day,
    )
    deal.protected_when_won = protected
    deal.margin_rate = result.margin_rate
    deal.partner_credit = result.partner_credit
    deal.partner_price = result.partner_price
    deal.commission = result.commission
    if csat is not None:
        deal.csat, deal.csat_recorded_at = csat, timezone.now()
        deal.csat_surveyed_on = surveyed_on or closed_on
    deal._change_reason = "Won"
    deal.save()
    _summary_apply(before, deal)
    Account.objects.filter(pk=deal.account_id, owning_partner__isnull=True).update(
        owning_partner=partner
    )
    # Refused (``ValidationError``) if the partner is paid in a currency with no rate that day.
    deal_accrue_incentives(deal, by=by)
    _publish(deal, EventKind.DEAL_WON)
    return deal


@audited
def deal_accrue_incentives(deal: Deal, *, by: User | None = None) -> None:
    """Tell the money engine what a won deal earns (RULEBOOK §6): plain facts only.

    Called by the win; safe to call again (the ledger keys each accrual by deal and rule),
    which is how wins loaded from another system earn theirs."""
    [(_, _, won)] = won_deal_facts(Deal.objects.filter(pk=deal.pk))
    deal_incentives_accrue(
        partner=deal.partner,
        source=deal,
        won=won,
        closed_on=deal.closed_on,
        by=by,
    )


@audited
@transaction.atomic
def deal_lose(*, deal: Deal, by: User, closed_on: date | None = None) -> Deal:
    deal = _locked(deal)
    if deal.status not in (DealStatus.PENDING, DealStatus.APPROVED, DealStatus.EXPIRED):
        raise _wrong_state(deal, "marked lost")
    before = _sum_facts(deal)
    deal.lose(
        by=by, at=timezone.now(), closed_on=_closed_on(closed_on or timezone.localdate(), deal)
    )
    deal._change_reason = "Lost"
    deal.save()
    _summary_apply(before, deal)
    return deal


# ---------------------------------------------------------------- scheduled


def deals_auto_approve(*, now: datetime | None = None) -> int:
    """Approve every pending registration older than the approval SLA (48 h), except
    those held for a manager's review.

    Safe to run twice at once: each row is claimed with SKIP LOCKED and re-checked.
    """
    now = now or timezone.now()
    approved = 0
    for program_id, sla_hours in _program_slas():
        cutoff = rules.auto_approval_cutoff(now, sla_hours)
        ids = list(
            Deal.objects.filter(
                status=DealStatus.PENDING,
                needs_review=False,
                submitted_at__lt=cutoff,
                partner__program_id=program_id,
            ).values_list("pk", flat=True)
        )
        for pk in ids:
            with transaction.atomic():
                deal = (
                    Deal.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, status=DealStatus.PENDING, needs_review=False)
                    .first()
                )
                if deal is None:
                    continue
                deal_approve(deal=deal, by=None, at=now, auto=True)
                approved += 1
    return approved


def _program_slas() -> list[tuple[int, int]]:
    from partners.models import Program

    return list(Program.objects.values_list("pk", "registration_sla_hours"))


def deals_expire_lapsed(*, today: date | None = None) -> int:
    """Mark approved registrations whose protection ended before ``today`` as expired."""
    today = today or timezone.localdate()
    expired = 0
    ids = list(
        Deal.objects.filter(status=DealStatus.APPROVED, expires_on__lt=today).values_list(
            "pk", flat=True
        )
    )
    for pk in ids:
        with transaction.atomic():
            deal = (
                Deal.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=DealStatus.APPROVED, expires_on__lt=today)
                .first()
            )
            if deal is None:
                continue
            deal.expire(at=timezone.now())
            deal._change_reason = gettext_noop("Protection lapsed")
            deal.save()
            _publish(deal, EventKind.DEAL_EXPIRED)
            expired += 1
    return expired


# ---------------------------------------------------------------- quarter summaries


# How far back before the sums begin a changed deal has its partner summed again.
SUM_RECHECK_MINUTES = 10


def _summary_rows(quarter: Quarter, as_of: date, partner_ids=None) -> dict[int, DealQuarter]:
    """``DealQuarter`` rows for ``quarter`` (pipeline as of ``as_of``) from three grouped
    queries: every partner with a deal that counts, or exactly ``partner_ids`` (zeros
    where nothing counts)."""
    closed = closed_in(quarter.start, quarter.end)
    pipeline = Deal.objects.filter(open_on(as_of))
    year = Deal.objects.filter(
        status=DealStatus.WON, closed_on__range=(quarter.trailing(4)[0].start, quarter.end)
    )
    rows: dict[int, DealQuarter] = {}
    if partner_ids is not None:
        partner_ids = list(partner_ids)
        closed = closed.filter(partner_id__in=partner_ids)
        pipeline = pipeline.filter(partner_id__in=partner_ids)
        year = year.filter(partner_id__in=partner_ids)
        rows = {pk: DealQuarter(quarter=quarter.label, partner_id=pk) for pk in partner_ids}
    for figures in closed.values("partner_id").annotate(**outcome_figures()).order_by():
        rows[figures["partner_id"]] = DealQuarter(quarter=quarter.label, **figures)
    for figures in pipeline.values("partner_id").annotate(**pipeline_figures()).order_by():
        row = rows.setdefault(
            figures["partner_id"],
            DealQuarter(quarter=quarter.label, partner_id=figures["partner_id"]),
        )
        row.pipeline_amount = figures["pipeline_amount"]
        row.pipeline_deals = figures["pipeline_deals"]
    for partner_id, credit in (
        year.values_list("partner_id").annotate(Sum("partner_credit")).order_by()
    ):
        rows.setdefault(
            partner_id, DealQuarter(quarter=quarter.label, partner_id=partner_id)
        ).year_credit = credit
    return rows


def _summary_store(rows) -> None:
    DealQuarter.objects.bulk_create(
        rows,
        batch_size=5000,
        update_conflicts=True,
        unique_fields=["quarter", "partner"],
        update_fields=list(rules.SUM_FIELDS),
    )


def deal_quarter_summarize(*, quarter: str, today: date | None = None) -> SummarizedQuarter:
    """Sum a quarter's deals per partner (won, lost, the pipeline at its end — or today,
    for the open quarter) so that dashboards read one row per partner instead of
    scanning the quarter's deals. A rerun rewrites the rows in place.

    Safe beside registrations and wins, which add their changes to the rows: rows are
    upserted, never deleted, and the partners whose deals changed from a few minutes
    before the sums began are summed again once the rows are written (an uncommitted
    change the sums could not see, its increment overwritten); a change committing later
    adds to the rewritten row."""
    today = today or timezone.localdate()
    period = Quarter.parse(quarter)
    if period.start > today:
        raise ValidationError({"quarter": f"{period.label} has not started yet."})
    as_of = min(period.end, today)
    started = timezone.now() - timedelta(minutes=SUM_RECHECK_MINUTES)
    rows = _summary_rows(period, as_of)
    with transaction.atomic():
        _sums_lock()
        gone = DealQuarter.objects.filter(quarter=period.label).exclude(partner_id__in=list(rows))
        for pk in gone.values_list("partner_id", flat=True):
            rows[pk] = DealQuarter(quarter=period.label, partner_id=pk)
        _summary_store(rows.values())
        changed = Deal.objects.filter(updated_at__gte=started).values_list("partner_id", flat=True)
        _summary_store(_summary_rows(period, as_of, partner_ids=set(changed)).values())
        summary, _ = SummarizedQuarter.objects.update_or_create(
            quarter=period.label,
            defaults={
                "start": period.start,
                "end": period.end,
                "as_of": as_of,
                "partners": len(rows),
                "written_at": timezone.now(),
            },
        )
    return summary


def deal_quarters_summarize(*, today: date | None = None, back: int = 8) -> list[str]:
    """Nightly: sum the open quarter as of today, and each of the last ``back`` ended
    quarters not yet summed to its end (the quarter that just ended is finished on the
    first night after it)."""
    today = today or timezone.localdate()
    current = Quarter.containing(today)
    ended = current.previous().trailing(back)
    complete = set(
        SummarizedQuarter.objects.filter(
            quarter__in=[q.label for q in ended], as_of=F("end")
        ).values_list("quarter", flat=True)
    )
    return [
        deal_quarter_summarize(quarter=q.label, today=today).quarter
        for q in [*ended, current]
        if q.label not in complete
    ]


def _sums_lock() -> None:
    """While the sums are rewritten, hold back every change that would add to them: a
    change reads the summed quarters (and so holds the table's lightest lock) before it
    adds to a row, so it waits, then reads the new quarters; the changes already reading
    are waited for, and committed by the time the rewrite looks for changed deals.
    (SQLite, the embedded default, has one writer at a time anyway.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"LOCK TABLE {SummarizedQuarter._meta.db_table} IN ACCESS EXCLUSIVE MODE"
            )


def _sum_facts(deal: Deal) -> rules.DealFacts:
    return rules.DealFacts(
        status=deal.status,
        submitted_on=timezone.localdate(deal.submitted_at),
        closed_on=deal.closed_on,
        expires_on=deal.expires_on,
        amount=deal.amount_reporting,
        closed_amount=deal.closed_amount_reporting,
        partner_credit=deal.partner_credit,
        direct_conflict=deal.direct_conflict,
        co_sell=deal.compensation_model == CompensationModel.CO_SELL,
    )


def _summary_apply(before: rules.DealFacts | None, deal: Deal) -> None:
    """Keep the quarter sums true after a registration, win, loss or rejection: add to
    the partner's row of each summed quarter the deal can count in what the change made
    it add (after minus before). Increments commute, so concurrent changes for one
    partner need no lock; two short statements per quarter touched, whatever the
    partner's size. Runs in the caller's transaction."""
    after = _sum_facts(deal)
    for summary in SummarizedQuarter.objects.filter(end__gte=after.submitted_on):
        window = rules.SumWindow(
            start=summary.start,
            end=summary.end,
            as_of=summary.as_of,
            year_start=Quarter.parse(summary.quarter).trailing(4)[0].start,
        )
        now, was = rules.contribution(after, window), rules.contribution(before, window)
        delta = {name: now[name] - was[name] for name in rules.SUM_FIELDS if now[name] != was[name]}
        if not delta:
            continue
        DealQuarter.objects.bulk_create(
            [DealQuarter(quarter=summary.quarter, partner_id=deal.partner_id)],
            ignore_conflicts=True,
        )
        DealQuarter.objects.filter(quarter=summary.quarter, partner_id=deal.partner_id).update(
            **{name: F(name) + change for name, change in delta.items()}
        )


# ---------------------------------------------------------------- conflict cases


@transaction.atomic
def conflict_case_open(
    *,
    scenario: str,
    partner: Partner,
    opened_by: User,
    account: Account | None = None,
    other_partner: Partner | None = None,
    direct_rep: str = "",
    note: str = "",
) -> ConflictCase:
    """A case a manager opens by hand (poaching, direct team targeting a partner account)."""
    if scenario not in ConflictScenario.values:
        raise ValidationError({"scenario": "Unknown conflict scenario."})
    now = timezone.now()
    if scenario == ConflictScenario.POACHING:
        due = now  # immediate
    elif scenario == ConflictScenario.DIRECT_TARGETING:
        due = timezone.localtime(now).replace(hour=23, minute=59, second=59)  # same day
    elif scenario == ConflictScenario.TWO_PARTNERS:
        due = now + timedelta(hours=partner.program.partner_conflict_sla_hours)
    else:
        due = now + timedelta(hours=partner.program.registration_sla_hours)
    case = ConflictCase.objects.create(
        scenario=scenario,
        partner=partner,
        other_partner=other_partner,
        account=account,
        direct_rep=direct_rep,
        sla_due_at=due,
        resolution=note,
    )
    if scenario == ConflictScenario.DIRECT_TARGETING:
        _escalate_to_chief(case, "The direct team is targeting a partner's account.")
    return case


def _escalate_to_chief(case: ConflictCase, why: str) -> None:
    recipients = _chief_emails()
    if recipients:
        subject = f"Channel conflict escalated: {case}"
        body = (
            f"{why}\n\nCase: {case}\nSLA due: {timezone.localtime(case.sla_due_at):%Y-%m-%d %H:%M}"
        )
        mail_on_commit(subject, body, recipients)


@audited
@transaction.atomic
def conflict_case_resolve(*, case: ConflictCase, by: User, resolution: str) -> ConflictCase:
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Write down how the conflict was resolved."})
    case = ConflictCase.objects.select_for_update().get(pk=case.pk)
    if case.status != ConflictCase.Status.OPEN:
        raise DealError("This case is already resolved.", code="invalid_status", status=409)
    case.status = ConflictCase.Status.RESOLVED
    case.resolution, case.resolved_by, case.resolved_at = resolution, by, timezone.now()
    case.save()
    return case


@audited
@transaction.atomic
def conflict_case_escalate(*, case: ConflictCase, by: User, reason: str) -> ConflictCase:
    """Poaching: warning → probation → termination. Termination exits the partner."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the case escalates."})
    case = ConflictCase.objects.select_for_update().select_related("partner__tier").get(pk=case.pk)
    if case.status != ConflictCase.Status.OPEN:
        raise DealError("This case is already resolved.", code="invalid_status", status=409)
    if case.escalation_step == EscalationStep.TERMINATION:
        raise DealError("This case is already at termination.", code="invalid_status", status=409)
    case.escalation_step = rules.next_escalation_step(case.escalation_step)
    case.escalated_at = timezone.now()
    case._change_reason = reason
    case.save()
    partner = case.partner
    if case.escalation_step == EscalationStep.TERMINATION:
        Partner.objects.filter(pk=partner.pk).update(status=PartnerStatus.EXITED)
        partner_set_tier(
            partner=partner,
            tier=partner.tier,
            cause=TierChangeCause.EXIT,
            changed_by=by,
            reason_message=gettext_noop("Agreement violation (%(scenario)s): %(reason)s"),
            reason_params={
                "scenario": text_value(ConflictScenario(case.scenario).label),
                "reason": reason,
            },
        )
    notice_send(
        partner=partner,
        level="warning",
        kind=NoticeKind.CONFLICTS,
        message=gettext_noop("Channel conflict: %(step)s. %(reason)s"),
        params={"step": text_value(EscalationStep(case.escalation_step).label), "reason": reason},
        email_subject=gettext_noop("Channel conflict: %(step)s"),
    )
    return case


def conflicts_escalate_overdue(*, now: datetime | None = None) -> int:
    """Open cases past their SLA go to the channel chief, once each."""
    now = now or timezone.now()
    count = 0
    for pk in ConflictCase.objects.filter(
        status=ConflictCase.Status.OPEN, sla_due_at__lt=now, escalated_at__isnull=True
    ).values_list("pk", flat=True):
        with transaction.atomic():
            updated = ConflictCase.objects.filter(pk=pk, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if updated:  # claimed: only one runner notifies
                case = ConflictCase.objects.select_related("partner", "account").get(pk=pk)
                _escalate_to_chief(case, "This conflict passed its SLA without a resolution.")
                count += 1
    return count
