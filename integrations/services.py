"""Publishing events (the higher apps call ``event_publish`` in their transaction) and
handing them to what delivers them once the transaction commits."""

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from partners.models import User
from partners.services import partner_user_create, staff_user_create
from prm.retention import delete_in_batches

from .models import (
    PARTNER_SSO_ROLES,
    SSO_PROVIDERS,
    STAFF_SSO_ROLES,
    Event,
    EventKind,
    SsoDomain,
    SsoProtocol,
    SsoSetup,
)
from .queries import organisation_of
from .rules import (
    PARTNER_ROLE_RANK,
    STAFF_ROLE_RANK,
    NotAnEmailDomain,
    claim_values,
    domain_key,
    email_domain,
    role_from_claims,
)

logger = logging.getLogger(__name__)

# What receives each committed event: webhooks, the CRM's outbound sync. Each registers a
# function ``(events: list[Event]) -> None`` from its module; they run in a Celery task.
Deliverer = Callable[[list[Event]], None]
_deliverers: dict[str, Deliverer] = {}


def deliverer_register(name: str, deliver: Deliverer) -> None:
    _deliverers[name] = deliver


def deliverers() -> dict[str, Deliverer]:
    return dict(_deliverers)


def events_publish(events: Iterable[tuple[int, str, dict]]) -> list[Event]:
    """Record events ``(partner_id, kind, data)`` in the caller's transaction, and have
    them delivered after it commits (nothing is delivered for a change rolled back)."""
    rows = []
    for partner_id, kind, data in events:
        if kind not in EventKind.values:
            raise ValueError(f"Unknown event kind {kind!r}.")
        rows.append(Event(partner_id=partner_id, kind=kind, data=data))
    if not rows:
        return []
    rows = Event.objects.bulk_create(rows)
    ids = [row.pk for row in rows]

    def deliver() -> None:
        from .tasks import events_deliver

        events_deliver.delay(ids)

    transaction.on_commit(deliver)
    return rows


def event_publish(*, partner_id: int, kind: str, data: dict) -> Event:
    """One event; see ``events_publish``."""
    return events_publish([(partner_id, kind, data)])[0]


def events_deliver(*, event_ids: list[int]) -> int:
    """Hand the events not yet handed over to every deliverer, oldest first, in one
    transaction with marking them handed (so a second run of the task hands nothing
    twice). Returns how many events were handed."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=event_ids, handed_at__isnull=True)
            .order_by("occurred_at", "pk")
        )
        if not events:
            return 0
        for deliver in deliverers().values():
            deliver(events)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(handed_at=timezone.now())
    return len(events)


HAND_OVER_AFTER = timedelta(minutes=5)


def events_resend_stale(*, now: datetime | None = None) -> int:
    """Events committed more than ``HAND_OVER_AFTER`` ago and still not handed over (the
    broker was down, or lost the task): send them again. Returns how many."""
    now = now or timezone.now()
    ids = list(
        Event.objects.filter(handed_at__isnull=True, occurred_at__lt=now - HAND_OVER_AFTER)
        .order_by("occurred_at", "pk")
        .values_list("pk", flat=True)[:5000]
    )
    if ids:
        from .tasks import events_deliver

        events_deliver.delay(ids)
    return len(ids)


def events_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Handed-over events older than ``EVENT_RETENTION_DAYS`` go, with what was logged of
    their deliveries."""
    cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    old = Event.objects.filter(occurred_at__lt=cutoff, handed_at__isnull=False)
    return delete_in_batches(old, dry_run=dry_run)


# ---------------------------------------------------------------- single sign-on
#
# A set-up (``SsoSetup``) names an organisation — a partner, or the vendor's own staff —
# and its identity provider, which is allauth's ``SocialApp``: the OpenID Connect issuer
# and client, or the SAML IdP's metadata. The sign-in through it is allauth's; who it
# signs in, and as what, is decided here (``sso_sign_in_user``).

SECRET_FROM_ENVIRONMENT = "env:"
# Where the SAML provider finds the person's e-mail and name: the common names of Entra
# ID, Okta, Google and LDAP-style IdPs (a NameID in e-mail format is read too).
SAML_ATTRIBUTES = {
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "email",
        "mail",
        "Email",
    ],
    "first_name": [
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "givenName",
        "firstName",
        "first_name",
    ],
    "last_name": [
        "urn:oid:2.5.4.4",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "sn",
        "surname",
        "lastName",
        "last_name",
    ],
}


class SsoRefused(Exception):
    """A single sign-on refused: ``message`` says why, for the person signing in."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _sso_slug(partner, *, exclude_app_id: int | None = None) -> str:
    """The name of the set-up in its addresses (/auth/oidc/<slug>/…, /auth/saml/<slug>/…):
    from the partner's domain, ``staff`` for the vendor; kept when the partner changes."""
    from allauth.socialaccount.models import SocialApp

    base = slugify(partner.domain or partner.name)[:40] if partner else "staff"
    base = base or f"partner-{partner.pk}"
    taken = SocialApp.objects.exclude(pk=exclude_app_id).values_list("provider_id", flat=True)
    taken = set(taken) | set(
        SocialApp.objects.exclude(pk=exclude_app_id).values_list("client_id", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_url(url: str, field: str, errors: dict) -> str:
    url = (url or "").strip()
    if not url:
        errors[field] = gettext("This field is required.")
        return url
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        errors[field] = gettext("Give the full address, starting with https://.")
    elif parts.scheme == "http" and not local:
        errors[field] = gettext("The address must start with https://.")
    return url


def _secret_check(secret: str, errors: dict) -> None:
    if not secret.startswith(SECRET_FROM_ENVIRONMENT):
        return
    name = secret.removeprefix(SECRET_FROM_ENVIRONMENT)
    if not name.isidentifier():
        errors["client_secret"] = gettext("After env: comes the name of a variable.")
    elif name not in os.environ:
        errors["client_secret"] = gettext(
            "The environment variable %(name)s is not set on this server."
        ) % {"name": name}


def secret_from_environment(secret: str) -> str:
    """A client secret as stored, or, written ``env:NAME``, the environment's ``NAME``
    (``""`` when unset: the identity provider then refuses the client)."""
    if secret.startswith(SECRET_FROM_ENVIRONMENT):
        return os.environ.get(secret.removeprefix(SECRET_FROM_ENVIRONMENT), "")
    return secret


def _saml_idp(metadata_url: str, metadata_xml: str, errors: dict) -> dict:
    """The IdP part of allauth's SAML settings, read from the metadata now, so that a wrong
    address or document is refused when it is entered rather than at the first sign-in."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    metadata_url, metadata_xml = metadata_url.strip(), metadata_xml.strip()
    if not metadata_url and not metadata_xml:
        errors["metadata_url"] = gettext(
            "Give the address of the identity provider's metadata, or paste the metadata."
        )
        return {}
    try:
        if metadata_url:
            _check_url(metadata_url, "metadata_url", errors)
            if errors:
                return {}
            parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(metadata_url, timeout=10)
        else:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml)
    except Exception as exc:  # the parser raises whatever urllib and lxml raise
        field = "metadata_url" if metadata_url else "metadata_xml"
        errors[field] = gettext("The metadata could not be read: %(why)s") % {
            "why": str(exc)[:200] or exc.__class__.__name__
        }
        return {}
    idp = parsed.get("idp") or {}
    entity_id = idp.get("entityId")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    certs = idp.get("x509certMulti", {}).get("signing") or [idp.get("x509cert")]
    certs = [cert for cert in certs if cert]
    field = "metadata_url" if metadata_url else "metadata_xml"
    if not entity_id or not sso_url or not certs:
        errors[field] = gettext(
            "The metadata names no identity provider with a sign-in address and a "
            "signing certificate."
        )
        return {}
    if metadata_url:
        # allauth reads the metadata again (cached), so a renewed certificate is picked up.
        return {"entity_id": entity_id, "metadata_url": metadata_url}
    return {"entity_id": entity_id, "sso_url": sso_url, "x509cert": certs[0]}


def sso_roles_for(partner) -> tuple[str, ...]:
    return PARTNER_SSO_ROLES if partner is not None else STAFF_SSO_ROLES


@transaction.atomic
def sso_setup_save(
    *,
    setup: SsoSetup | None,
    partner,
    protocol: str,
    name: str,
    domains: list[str],
    default_role: str,
    role_claim: str = "",
    role_map: dict | None = None,
    password_sign_in: bool = True,
    idp_enforces_mfa: bool = False,
    is_active: bool = True,
    server_url: str = "",
    client_id: str = "",
    client_secret: str = "",
    metadata_url: str = "",
    metadata_xml: str = "",
    saved_by=None,
) -> SsoSetup:
    """Create or change an organisation's set-up and its identity provider (allauth's
    ``SocialApp``). ``partner`` ``None`` is the vendor's staff. A blank ``client_secret``
    keeps the stored one; ``env:NAME`` reads it from the environment at each sign-in.
    Raises ``ValidationError`` keyed by field."""
    from allauth.socialaccount.models import SocialApp

    errors: dict[str, str] = {}
    role_map = role_map or {}
    if protocol not in SsoProtocol.values:
        errors["protocol"] = gettext("Choose OpenID Connect or SAML 2.0.")
    roles = sso_roles_for(partner)
    if default_role not in roles:
        errors["default_role"] = gettext("Choose one of: %(roles)s.") % {"roles": ", ".join(roles)}
    if not isinstance(role_map, dict) or not all(
        isinstance(k, str) and k.strip() and v in roles for k, v in role_map.items()
    ):
        errors["role_map"] = gettext(
            "Write each value of the claim with the role it gives, as in "
            '{"PRM admins": "%(role)s"}; the roles are: %(roles)s.'
        ) % {"role": roles[0], "roles": ", ".join(roles)}
    if role_map and not role_claim.strip():
        errors["role_claim"] = gettext("Name the claim or attribute the mapping reads.")
    if idp_enforces_mfa and partner is not None:
        errors["idp_enforces_mfa"] = gettext(
            "Only the vendor's own set-up may vouch for two-factor sign-in."
        )
    clash = SsoSetup.objects.filter(partner=partner).exclude(pk=setup.pk if setup else None)
    if clash.exists():
        errors["partner"] = gettext("%(organisation)s already has a set-up.") % {
            "organisation": partner.name if partner else gettext("The vendor's staff")
        }
    keys = []
    for raw in domains:
        try:
            keys.append(domain_key(raw))
        except NotAnEmailDomain:
            errors["domains"] = gettext("%(domain)s is not an e-mail domain.") % {
                "domain": repr(raw)
            }
    keys = sorted(set(keys))
    taken = SsoDomain.objects.filter(domain__in=keys).exclude(setup_id=setup.pk if setup else None)
    if taken.exists():
        errors["domains"] = gettext("Already routed to another organisation: %(domains)s.") % {
            "domains": ", ".join(sorted(taken.values_list("domain", flat=True)))
        }
    if not keys and not errors.get("domains"):
        errors["domains"] = gettext("Give at least one e-mail domain.")

    app = setup.app if setup else SocialApp()
    if protocol == SsoProtocol.OIDC:
        server_url = _check_url(server_url, "server_url", errors)
        if not client_id.strip():
            errors["client_id"] = gettext("This field is required.")
        if not client_secret and not app.secret:
            errors["client_secret"] = gettext("This field is required.")
        _secret_check(client_secret, errors)
        idp = {}
    elif protocol == SsoProtocol.SAML:
        previous = (app.settings or {}).get("idp", {}) if app.pk else {}
        if not metadata_url.strip() and not metadata_xml.strip() and previous:
            idp = previous  # unchanged
        else:
            idp = _saml_idp(metadata_url, metadata_xml, errors)
    if errors:
        raise ValidationError(errors)

    app.provider = SSO_PROVIDERS[protocol]
    app.provider_id = app.provider_id or _sso_slug(partner, exclude_app_id=app.pk)
    app.name = name.strip() or (partner.name if partner else gettext("Vendor staff"))
    if protocol == SsoProtocol.OIDC:
        app.client_id = client_id.strip()
        app.secret = client_secret or app.secret
        app.settings = {
            "server_url": server_url.rstrip("/"),
            # PKCE on: Okta, Entra ID and Google accept it, and it binds the code to us.
            "oauth_pkce_enabled": True,
        }
    else:
        # allauth's SAML addresses are named by client_id: /auth/saml/<client_id>/acs/.
        app.client_id = app.provider_id
        app.secret = ""
        app.settings = {
            "idp": idp,
            "attribute_mapping": SAML_ATTRIBUTES,
            "advanced": {
                "strict": True,
                # A response is taken only with a signed assertion, and only in answer to
                # a request of ours (no IdP-initiated sign-in).
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
            },
        }
    app.save()

    if setup is None:
        setup = SsoSetup(app=app)
    setup.partner = partner
    setup.protocol = protocol
    setup.default_role = default_role
    setup.role_claim = role_claim.strip()
    setup.role_map = {k.strip(): v for k, v in role_map.items()}
    setup.password_sign_in = password_sign_in
    setup.idp_enforces_mfa = idp_enforces_mfa
    setup.is_active = is_active
    setup.save()
    setup.domains.exclude(domain__in=keys).delete()
    SsoDomain.objects.bulk_create(
        [SsoDomain(setup=setup, domain=key) for key in keys], ignore_conflicts=True
    )
    logger.info(
        "SSO set-up %s for %s saved by %s",
        setup.pk,
        setup.organisation_name,
        getattr(saved_by, "username", None),
    )
    return setup


@transaction.atomic
def sso_setup_delete(*, setup: SsoSetup) -> None:
    """The set-up, its domains, its identity provider and the links of logins to it (the
    logins stay, and sign in with a password again)."""
    from allauth.socialaccount.models import SocialAccount

    app = setup.app
    setup.delete()
    # A login's link names its provider by the app's provider_id (no foreign key).
    SocialAccount.objects.filter(provider=app.provider_id or app.provider).delete()
    app.delete()


def _belongs(user: User, setup: SsoSetup) -> bool:
    organisation = organisation_of(user)
    return organisation == ("vendor" if setup.for_staff else setup.partner_id)


@transaction.atomic
def sso_sign_in_user(
    *,
    setup: SsoSetup,
    linked_user: User | None,
    email: str,
    first_name: str = "",
    last_name: str = "",
    claims: dict | None = None,
) -> tuple[User, bool]:
    """The login an identity provider's sign-in stands for, and whether it was made now.

    ``linked_user`` is the login this IdP's account is already linked to. Otherwise the
    login with the same e-mail is taken, but only within the set-up's organisation; with
    none, one is made (just in time) when the e-mail is in one of the set-up's domains,
    with the role its claims map to. A login of another organisation — another partner's
    person, or staff for a partner's IdP — is never signed in: ``SsoRefused``."""
    claims = claims or {}
    organisation = setup.organisation_name
    if linked_user is not None:
        user = linked_user
    else:
        email = (email or "").strip()
        if not email or "@" not in email:
            raise SsoRefused(
                gettext(
                    "%(organisation)s's identity provider did not send an e-mail address: "
                    "ask its administrator to release it to this application."
                )
                % {"organisation": organisation}
            )
        user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        if not _belongs(user, setup):
            logger.warning(
                "SSO of %s refused: login %s belongs to another organisation",
                organisation,
                user.pk,
            )
            raise SsoRefused(
                gettext(
                    "%(email)s has a login that does not belong to %(organisation)s: it "
                    "cannot sign in through this identity provider."
                )
                % {"email": user.email or email, "organisation": organisation}
            )
        if not user.is_active:
            raise SsoRefused(gettext("This login is switched off: ask your administrator."))
        return user, False

    domain = email_domain(email)
    if not setup.domains.filter(domain=domain).exists():
        raise SsoRefused(
            gettext(
                "%(email)s is not in an e-mail domain of %(organisation)s, so no login is "
                "made for it: ask the vendor's channel team to add the domain."
            )
            % {"email": email, "organisation": organisation}
        )
    ranking = PARTNER_ROLE_RANK if setup.partner_id else STAFF_ROLE_RANK
    role = role_from_claims(
        claim_values(claims, setup.role_claim),
        setup.role_map,
        default=setup.default_role,
        ranking=ranking,
    )
    try:
        if setup.partner_id:
            user = partner_user_create(
                partner=setup.partner,
                username=email.lower(),
                email=email.lower(),
                password=None,
                role=role,
                first_name=first_name[:150],
                last_name=last_name[:150],
            ).user
        else:
            user = staff_user_create(
                username=email.lower(),
                email=email.lower(),
                password=None,
                role=role,
                first_name=first_name[:150],
                last_name=last_name[:150],
            )
    except ValidationError as exc:
        raise SsoRefused(" ".join(exc.messages)) from exc
    logger.info("SSO of %s made login %s as %s", organisation, user.pk, role)
    return user, True
