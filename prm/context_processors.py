from functools import cache

from django.urls import get_script_prefix, reverse

from .roles import Role, role_of

# The pages the navigation bar links to: named once here, reversed once per process.
NAV_PAGES = (
    "home",
    "portal-home",
    "portal-deals",
    "portal-earnings",
    "portal-mdf",
    "portal-scorecards",
    "portal-qbrs",
    "portal-onboarding",
    "portal-certifications",
    "portal-content",
    "portal-campaigns",
    "portal-team",
    "portal-notifications",
    "manager-home",
    "admin:index",
    "executive-home",
    "api-docs",
    "set_language",
    "mfa_index",
    "portal-tokens",
    "portal-webhooks",
    "account_change_password",
    "account_logout",
)


@cache
def nav_urls(script_prefix: str) -> dict[str, str]:
    """The navigation bar's addresses (``portal-deals`` as ``portal_deals``). They depend
    only on the URL configuration and the prefix the site is served under, neither of
    which changes while a process runs, so every page does not reverse them again."""
    return {name.replace(":", "_").replace("-", "_"): reverse(name) for name in NAV_PAGES}


def roles(request) -> dict:
    role = role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "user_role_label": Role(role).label if role else "",
        "Role": Role,
        "urls": nav_urls(get_script_prefix()),
    }
