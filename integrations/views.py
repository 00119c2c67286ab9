"""allauth's identity-provider addresses (/auth/oidc/…, /auth/saml/…), each answered by
allauth's own view behind two guards of ours:

- an answer from an identity provider that allauth cannot read (a SAML response that is
  not XML, user info without a subject, metadata that cannot be fetched) is a 400 page
  that says so, never a 500;
- a redirect to the identity provider in answer to a form (allauth's "continue" page) is
  the hop page instead: the Content-Security-Policy's form-action 'self' would stop it.
"""

import binascii
import functools
import logging
import zlib
from urllib.parse import urlsplit

from allauth.socialaccount.providers.openid_connect import views as oidc_views
from allauth.socialaccount.providers.saml import views as saml_views
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from lxml.etree import LxmlError
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError

from .queries import sso_setups
from .sso import answer_refused_message, hop_page, refusal_page

logger = logging.getLogger(__name__)

# What allauth and python3-saml raise on an answer or a configuration they cannot read.
UNREADABLE = (
    KeyError,
    ValueError,
    TypeError,
    OSError,
    binascii.Error,
    zlib.error,
    LxmlError,
    OneLogin_Saml2_Error,
    OneLogin_Saml2_ValidationError,
    ImproperlyConfigured,
)


def guarded(view, *, protocol: str):
    @functools.wraps(view)
    def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
        try:
            response = view(request, **kwargs)
        except UNREADABLE:
            logger.exception("SSO answer or set-up not readable at %s", request.path)
            return refusal_page(request, answer_refused_message(), status=400)
        location = response.get("Location", "") if response.status_code == 302 else ""
        if request.method == "POST" and urlsplit(location).netloc not in ("", request.get_host()):
            key = kwargs.get("provider_id") or kwargs.get("organization_slug")
            field = "app__provider_id" if protocol == "oidc" else "app__client_id"
            setup = sso_setups().filter(**{field: key}).first()
            if setup is not None:
                return hop_page(request, setup, location)
        return response

    return wrapper


oidc_login = guarded(oidc_views.login, protocol="oidc")
oidc_callback = guarded(oidc_views.callback, protocol="oidc")
saml_login = guarded(saml_views.login, protocol="saml")
saml_acs = guarded(saml_views.acs, protocol="saml")
saml_finish_acs = guarded(saml_views.finish_acs, protocol="saml")
saml_metadata = guarded(saml_views.metadata, protocol="saml")
