"""Portal pages of the outbound webhooks, for a partner's admin: their subscriptions, each
with its delivery log, its secret, redelivery (docs/webhooks.md)."""

import binascii
import functools
import logging
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

from allauth.socialaccount.providers.openid_connect import views as oidc_views
from allauth.socialaccount.providers.saml import views as saml_views
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from lxml.etree import LxmlError
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError

from partners.models import PartnerRole
from partners.queries import partner_for_user, partner_id_of, partner_role_of
from prm.pages import page_of
from prm.roles import Role
from prm.views import role_required, scoped

from . import services
from .forms import WebhookEditForm, WebhookForm
from .models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from .permissions import can_manage_webhook
from .queries import (
    deliveries_visible_to,
    delivery_for_user,
    sso_setups,
    webhook_for_user,
    webhooks_visible_to,
)
from .sso import answer_refused_message, hop_page, refusal_page


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@role_required(Role.PARTNER)
def webhooks(request) -> HttpResponse:
    """The partner's subscriptions, and a new one."""
    if partner_role_of(request.user) != PartnerRole.ADMIN:
        raise PermissionDenied
    partner = partner_for_user(request.user, partner_id_of(request.user))
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.webhook_subscription_create(
                partner=partner, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("Subscription created. Copy its signing secret to your receiver."),
            )
            return redirect("portal-webhook", pk=subscription.pk)
    subscriptions = webhooks_visible_to(request.user).filter(partner=partner)
    return render(
        request,
        "integrations/webhooks.html",
        {"partner": partner, "subscriptions": subscriptions, "form": form},
        status=400 if form.errors else 200,
    )


def _manageable(request, pk) -> WebhookSubscription:
    """The subscription, 404 outside the user's scope, 403 if theirs only to read."""
    subscription = webhook_for_user(request.user, pk)
    if not can_manage_webhook(request.user, subscription.partner):
        raise PermissionDenied
    return subscription


@scoped(pk=WebhookSubscription)
@login_required
def webhook(request, pk: int) -> HttpResponse:
    """One subscription: its settings, its secret and its delivery log."""
    subscription = _manageable(request, pk)
    initial = {
        "url": subscription.url,
        "description": subscription.description,
        "event_kinds": subscription.event_kinds,
        "is_active": subscription.is_active,
    }
    form = WebhookEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_subscription_update(
                subscription=subscription, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Subscription saved."))
            return redirect("portal-webhook", pk=subscription.pk)
    status = request.GET.get("status", "")
    deliveries = deliveries_visible_to(request.user).filter(subscription=subscription)
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    return render(
        request,
        "integrations/webhook.html",
        {
            "subscription": subscription,
            "form": form,
            "page": page_of(deliveries, request.GET.get("page")),
            "status": status,
            "statuses": DeliveryStatus.choices,
        },
        status=400 if form.errors else 200,
    )


@scoped(pk=WebhookSubscription)
@login_required
def webhook_rotate(request, pk: int) -> HttpResponse:
    subscription = _manageable(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.webhook_secret_rotate(subscription=subscription, by=request.user)
    messages.success(
        request,
        _(
            "New secret made. The previous one signs beside it for 24 hours: "
            "switch your receiver over."
        ),
    )
    return redirect("portal-webhook", pk=subscription.pk)


@scoped(pk=WebhookSubscription)
@login_required
def webhook_delete(request, pk: int) -> HttpResponse:
    subscription = _manageable(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.webhook_subscription_delete(subscription=subscription, by=request.user)
    messages.success(request, _("Subscription deleted, with its delivery log."))
    return redirect("portal-webhooks")


@scoped(pk=WebhookDelivery)
@login_required
def webhook_redeliver(request, pk: int) -> HttpResponse:
    delivery = delivery_for_user(request.user, pk)
    if not can_manage_webhook(request.user, delivery.subscription.partner):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.webhook_redeliver(delivery=delivery, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Sent again, with the same webhook-id."))
    return redirect("portal-webhook", pk=delivery.subscription_id)


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


def guarded(view: Callable, *, protocol: str) -> Callable:
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
