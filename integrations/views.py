"""Portal pages of the outbound webhooks, for a partner's admin: their subscriptions, each
with its delivery log, its secret, redelivery (docs/webhooks.md)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from partners.models import PartnerRole
from partners.queries import partner_for_user, partner_id_of, partner_role_of
from prm.pages import page_of
from prm.roles import Role
from prm.views import role_required, scoped

from . import services
from .forms import WebhookEditForm, WebhookForm
from .models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from .permissions import can_manage_webhook
from .queries import deliveries_visible_to, delivery_for_user, webhook_for_user, webhooks_visible_to


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
