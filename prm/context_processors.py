from dataclasses import dataclass
from functools import cache

from django.urls import get_script_prefix, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .roles import Role, role_of

# The pages the navigation bar links to: named once here, reversed once per process.
NAV_PAGES = (
    "home",
    "portal-home",
    "portal-leads",
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
    "portal-directory-profile",
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


@dataclass(frozen=True)
class NavEntry:
    """One link of the navigation bar. ``more`` puts it in the "More" menu, under the
    heading ``section`` if it has one: the bar itself keeps to one line at a laptop's width,
    so a new page goes there unless people open it every day."""

    page: str
    label: str | Promise
    more: bool = False
    section: str | Promise = ""


# Each role's links, in order. A page named here must be in NAV_PAGES.
NAV_MENUS: dict[str, tuple[NavEntry, ...]] = {
    Role.PARTNER: (
        NavEntry("portal-home", _("My tier")),
        NavEntry("portal-leads", _("Leads")),
        NavEntry("portal-deals", _("Deals")),
        NavEntry("portal-earnings", _("Earnings")),
        NavEntry("portal-mdf", _("MDF")),
        NavEntry("portal-scorecards", _("Scorecards")),
        NavEntry("portal-qbrs", _("Reviews")),
        NavEntry("portal-onboarding", _("Onboarding plan"), more=True, section=_("Enablement")),
        NavEntry("portal-certifications", _("Certifications"), more=True, section=_("Enablement")),
        NavEntry("portal-content", _("Content library"), more=True, section=_("Enablement")),
        NavEntry(
            "portal-campaigns", _("Co-marketing campaigns"), more=True, section=_("Enablement")
        ),
        NavEntry("portal-team", _("Team"), more=True, section=_("Your company")),
        NavEntry(
            "portal-directory-profile", _("Directory profile"), more=True, section=_("Your company")
        ),
        NavEntry("api-docs", _("API documentation"), more=True, section=_("Developers")),
    ),
    Role.CHANNEL_MANAGER: (
        NavEntry("manager-home", _("My partners")),
        NavEntry("admin:index", _("Admin")),
        NavEntry("api-docs", "API"),
    ),
    # The roles that see the whole program: channel chief, executive, finance, admin.
    "program": (
        NavEntry("executive-home", _("Program")),
        NavEntry("manager-home", _("Partners")),
        NavEntry("admin:index", _("Admin")),
        NavEntry("api-docs", "API"),
    ),
}


@cache
def nav_urls(script_prefix: str) -> dict[str, str]:
    """The navigation bar's addresses (``portal-deals`` as ``portal_deals``). They depend
    only on the URL configuration and the prefix the site is served under, neither of
    which changes while a process runs, so every page does not reverse them again."""
    return {name.replace(":", "_").replace("-", "_"): reverse(name) for name in NAV_PAGES}


@cache
def nav_menu(menu: str, script_prefix: str) -> dict[str, list[dict]]:
    """A role's links split into the bar's (``main``) and the "More" menu's (``more``)."""
    urls = nav_urls(script_prefix)
    links: dict[str, list[dict]] = {"main": [], "more": []}
    for entry in NAV_MENUS.get(menu, ()):
        url = urls[entry.page.replace(":", "_").replace("-", "_")]
        links["more" if entry.more else "main"].append(
            {"page": entry.page, "url": url, "label": entry.label, "section": entry.section}
        )
    return links


def roles(request) -> dict:
    role = role_of(getattr(request, "user", None))
    prefix = get_script_prefix()
    menu = role if role in (Role.PARTNER, Role.CHANNEL_MANAGER) else "program" if role else ""
    return {
        "user_role": role,
        "user_role_label": Role(role).label if role else "",
        "Role": Role,
        "urls": nav_urls(prefix),
        "nav": nav_menu(menu, prefix),
    }
