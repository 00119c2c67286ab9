"""Admin of the outbound webhooks: every subscription in the user's scope (the vendor's own
for chiefs and administrators), written through the services; the delivery log, read-only,
with redelivery."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from prm.admin_history import HistoryAdmin

from . import services
from .models import EventKind, WebhookDelivery, WebhookSubscription
from .permissions import can_manage_webhook


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_kinds = forms.MultipleChoiceField(
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="None ticked: every kind.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["partner", "url", "description", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_kinds"].initial = self.instance.event_kinds


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ScopedAdminMixin, HistoryAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "partner", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["partner"]
    search_fields = ["url", "description", "partner__name"]
    readonly_fields = ["disabled_reason", "consecutive_failures", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        fields = ["partner", "url", "description", "event_kinds", "is_active"]
        if obj is not None:
            fields += list(self.readonly_fields)
            if can_manage_webhook(request.user, obj.partner):
                fields.append("signing_secret")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        # ``event_kinds`` is the form's own field (the model's is a JSON list, not editable
        # in model forms): the form factory is given the model's fields only.
        fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [field for field in fields if field != "event_kinds"]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # The partner is chosen once: a subscription moves to no other partner.
        return ["partner", *self.readonly_fields, "signing_secret"]

    @admin.display(description="signing secret")
    def signing_secret(self, obj: WebhookSubscription) -> str:
        return obj.secret

    def _may_manage(self, request, obj) -> bool:
        return obj is None or can_manage_webhook(request.user, obj.partner)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = services.webhook_subscription_update(
                    subscription=obj,
                    by=request.user,
                    url=data["url"],
                    event_kinds=data["event_kinds"],
                    description=data["description"],
                    is_active=data["is_active"],
                )
            else:
                partner = data.get("partner")
                if not can_manage_webhook(request.user, partner):
                    raise PermissionDenied(
                        "Name the partner: only a channel chief or an administrator "
                        "subscribes to every partner's events."
                    )
                saved = services.webhook_subscription_create(
                    partner=partner,
                    url=data["url"],
                    event_kinds=data["event_kinds"],
                    description=data["description"],
                    by=request.user,
                )
                if not data["is_active"]:
                    saved = services.webhook_subscription_update(
                        subscription=saved, by=request.user, is_active=False
                    )
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.webhook_subscription_delete(subscription=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            if can_manage_webhook(request.user, subscription.partner):
                services.webhook_subscription_delete(subscription=subscription, by=request.user)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    partner_field = "subscription__partner"
    list_display = [
        "created_at",
        "event_kind",
        "subscription",
        "status",
        "attempts",
        "response_status",
        "last_attempt_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event__kind"]
    list_select_related = ["event", "subscription"]
    search_fields = ["subscription__url", "event__public_id"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    fields = [
        "subscription",
        "webhook_id",
        "event_kind",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "response_status",
        "duration_ms",
        "error",
        "response_excerpt",
    ]
    readonly_fields = fields

    @admin.display(description="event", ordering="event__kind")
    def event_kind(self, obj: WebhookDelivery) -> str:
        return obj.event.kind

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return str(obj.event.public_id)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("integrations.redeliver_webhookdelivery"):
            actions.pop("redeliver", None)
        return actions

    @admin.action(description="Redeliver the selected deliveries (same webhook-id)")
    def redeliver(self, request, queryset):
        sent, refused = 0, []
        for delivery in queryset.select_related("subscription__partner"):
            if not can_manage_webhook(request.user, delivery.subscription.partner):
                refused.append(f"#{delivery.pk}: not yours to redeliver")
                continue
            try:
                services.webhook_redeliver(delivery=delivery, by=request.user)
            except ValidationError as exc:
                refused.append(f"#{delivery.pk}: {' '.join(exc.messages)}")
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} delivery(ies) sent again.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not sent: " + "; ".join(refused), messages.WARNING)
