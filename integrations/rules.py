"""Single sign-on's rules on plain values: which e-mail domain a sign-in names, and which
role an identity provider's claims give."""

from collections.abc import Iterable, Mapping

import idna

# The highest role wins when a person's claims match several (a group for admins and one
# for everyone): partner admins over reps; for the vendor's staff, the wider the role the
# higher (administrator, channel chief, channel manager, finance, executive).
PARTNER_ROLE_RANK = ("admin", "rep")
STAFF_ROLE_RANK = ("admin", "channel_chief", "channel_manager", "finance", "executive")


class NotAnEmailDomain(ValueError):
    pass


def domain_key(value: str) -> str:
    """An e-mail domain as set-ups store it: lower case, IDNA's ASCII form, no dots at the
    ends. Raises ``NotAnEmailDomain`` for what cannot be one."""
    text = (value or "").strip().lower().strip(".").removeprefix("@")
    if not text or "@" in text or any(ch.isspace() for ch in text):
        raise NotAnEmailDomain(value)
    try:
        ascii_text = idna.encode(text, uts46=True, std3_rules=True, transitional=False).decode()
    except (idna.IDNAError, UnicodeError) as exc:
        raise NotAnEmailDomain(value) from exc
    labels = ascii_text.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        raise NotAnEmailDomain(value)
    return ascii_text


def email_domain(login: str) -> str:
    """The domain of what was typed as ``name@domain`` (an e-mail, or a username written
    with its organisation's domain), as set-ups store it; ``""`` for anything else."""
    text = (login or "").strip()
    if text.count("@") != 1:
        return ""
    local, domain = text.split("@")
    if not local:
        return ""
    try:
        return domain_key(domain)
    except NotAnEmailDomain:
        return ""


def claim_values(claims: Mapping, name: str) -> list[str]:
    """The values of one claim or attribute: OpenID Connect sends a string or a list,
    SAML always a list."""
    if not name:
        return []
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, str | int | float | bool):
        value = [value]
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        return []
    return [str(item).strip() for item in value if str(item).strip()]


def role_from_claims(
    values: Iterable[str], role_map: Mapping[str, str], *, default: str, ranking: tuple[str, ...]
) -> str:
    """The role the claim's values map to (the highest of several), else ``default``.
    Values are compared without regard to case: IdPs differ in how they spell groups."""
    mapping = {str(key).strip().casefold(): role for key, role in role_map.items()}
    roles = {mapping[v.casefold()] for v in values if v.casefold() in mapping}
    roles &= set(ranking)
    if not roles:
        return default
    return min(roles, key=ranking.index)
