"""Response headers that Django's SecurityMiddleware does not set: the Content-Security-Policy,
the Permissions-Policy, and ``Cache-Control: no-store`` on answers to a signed-in user.

Django 5.2 has no CSP support of its own (it arrives in 6.0) and django-csp is not among the
project's dependencies, so this small middleware does what it would: one policy from the
settings, a fresh nonce per request (``request.csp_nonce``) for the few ``<style>`` blocks
the printable pages and the admin carry. The front end keeps to it: no inline scripts, no
inline event handlers, no ``style`` attributes (see ``static/js/prm.js``).
"""

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .errors import DATABASE_UNAVAILABLE

NONCE = "'nonce'"  # placeholder in CONTENT_SECURITY_POLICY, replaced by the request's nonce


def policy_header(policy: dict[str, list[str]], nonce: str) -> str:
    parts = []
    for directive, sources in policy.items():
        values = [f"'nonce-{nonce}'" if source == NONCE else source for source in sources]
        parts.append(" ".join([directive, *values]))
    return "; ".join(parts)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", {})
        self.report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False)
        self.permissions = getattr(settings, "PERMISSIONS_POLICY", "")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce
        response = self.get_response(request)
        header = (
            "Content-Security-Policy-Report-Only" if self.report_only else "Content-Security-Policy"
        )
        if self.policy and header not in response.headers:
            response.headers[header] = policy_header(self.policy, nonce)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        return response


def _signed_in(request: HttpRequest) -> bool:
    """Whether the answer was made for a signed-in user: a session's, or the owner of an
    API token DRF accepted (DRF sets the token's user on the Django request too)."""
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated)
    except DATABASE_UNAVAILABLE:
        # The session could not be read: the answer is the 503 page, the same for all.
        return False


class NoStoreWhenSignedInMiddleware:
    """``Cache-Control: no-store`` on every answer to a signed-in user (API.md), portal,
    admin and API alike, downloads included: a shared cache or the browser's back button
    must not keep one person's partners, deals or payments for the next.

    A view that already forbids storing (``never_cache`` sets ``no-store`` with more) keeps
    its header; any weaker one (``max-age``, ``private``) is replaced."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _signed_in(request) and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response
