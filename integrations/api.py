"""REST API of the outbound webhooks: subscriptions, their delivery log, redelivery
(docs/webhooks.md); and the payloads the receivers get, documented in the schema's
``webhooks`` (``WEBHOOK_DOCS``, SPECTACULAR_SETTINGS["WEBHOOKS"])."""

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from partners.models import Partner, PartnerRole
from partners.queries import partner_id_of, partner_role_of
from prm.api import BAD_REQUEST, ErrorSerializer, ScopedPrimaryKeyRelatedField
from prm.roles import MANAGER_ROLES, Role, role_of

from . import services
from .models import DeliveryStatus, EventKind, WebhookDelivery, WebhookSubscription
from .permissions import can_manage_webhook
from .queries import (
    deliveries_visible_to,
    delivery_for_user,
    webhook_for_user,
    webhook_partners_for,
    webhooks_visible_to,
)

EVENTS_HELP = (
    "The event kinds the subscription receives; empty or left out: every kind. Unknown "
    "kinds are refused."
)


class EventKindsField(serializers.ListField):
    """A list of ``EventKind`` values; an unknown one is refused in one plain message."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.ChoiceField(choices=EventKind.choices))
        kwargs.setdefault("max_length", len(EventKind.values) * 2)
        kwargs.setdefault("help_text", EVENTS_HELP)
        super().__init__(**kwargs)

    def run_child_validation(self, data) -> list:
        unknown = [str(item)[:100] for item in data if item not in EventKind.values]
        if unknown:
            raise serializers.ValidationError(
                "Unknown event kind: {}. Known kinds: {}.".format(
                    ", ".join(unknown), ", ".join(EventKind.values)
                )
            )
        return list(data)


class WebhookSerializer(serializers.ModelSerializer):
    partner = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="Empty: the vendor's own subscription, which receives every partner's events.",
    )
    events = serializers.ListField(
        source="event_kinds",
        child=serializers.ChoiceField(choices=EventKind.choices),
        read_only=True,
        help_text="The event kinds received; empty: every kind.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "partner",
            "url",
            "description",
            "events",
            "is_active",
            "disabled_reason",
            "consecutive_failures",
            "created_at",
        ]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (`whsec_…`): keep it with the receiver."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    partner = ScopedPrimaryKeyRelatedField(
        scope=webhook_partners_for,
        queryset=Partner.objects.all(),
        required=False,
        allow_null=True,
        help_text=(
            "The partner whose events it receives; a partner's admin may leave it out (their "
            "own). Empty for the vendor: every partner's events (channel chiefs and "
            "administrators only)."
        ),
    )
    url = serializers.URLField(max_length=500, help_text="https:// address that receives POSTs.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = EventKindsField(required=False)


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = EventKindsField(required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="false switches it off; true on again (its failures reset)."
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="`whsec_` and the key in base64.")


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(
        source="event.public_id",
        read_only=True,
        help_text="The `webhook-id` header: the same for every attempt of this event.",
    )
    event_type = serializers.ChoiceField(
        source="event.kind", choices=EventKind.choices, read_only=True
    )
    occurred_at = serializers.DateTimeField(source="event.occurred_at", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "webhook_id",
            "event_type",
            "occurred_at",
            "status",
            "attempts",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "response_status",
            "response_excerpt",
            "error",
            "duration_ms",
        ]
        read_only_fields = fields


def _refusal(exc: ValidationError) -> Response:
    return Response(
        {"detail": " ".join(exc.messages), "code": getattr(exc, "code", None) or "invalid"},
        status=400,
    )


class WebhookPermission(permissions.BasePermission):
    """Reading follows the scope (``integrations.queries``); creating needs a partner's
    admin or a manager and above; changing a subscription, ``can_manage_webhook``. Checked
    on the object after the scoped lookup, so another's is a 404, never a 403."""

    message = "Only the partner's admin, its channel manager or a channel chief can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or view.kwargs.get("pk") is not None:
            return True
        role = role_of(user)
        return role in MANAGER_ROLES or (
            role == Role.PARTNER and partner_role_of(user) == PartnerRole.ADMIN
        )

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS and getattr(view, "action", "") != "secret":
            return True
        subscription = obj.subscription if isinstance(obj, WebhookDelivery) else obj
        return can_manage_webhook(request.user, subscription.partner)


@extend_schema_view(
    list=extend_schema(tags=["webhooks"]),
    retrieve=extend_schema(tags=["webhooks"]),
    destroy=extend_schema(tags=["webhooks"], responses={204: None}),
)
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook subscriptions: a partner's admin manages their partner's, a channel manager
    their partners', chiefs and administrators every one and the vendor's own. Executives
    and finance read them (never the secret)."""

    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSerializer
    permission_classes = [WebhookPermission]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = {"partner": ["exact"], "is_active": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return webhooks_visible_to(self.request.user).order_by("-created_at", "-id")

    def get_object(self) -> Model:
        subscription = webhook_for_user(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, subscription)
        return subscription

    @extend_schema(
        tags=["webhooks"],
        request=WebhookCreateSerializer,
        responses={201: WebhookWithSecretSerializer, 400: BAD_REQUEST, 403: ErrorSerializer},
        description="A new subscription; the answer holds its secret (`GET …/secret/` again).",
    )
    def create(self, request, *args, **kwargs) -> Response:
        given = WebhookCreateSerializer(data=request.data, context={"request": request})
        given.is_valid(raise_exception=True)
        data = given.validated_data
        user = request.user
        if "partner" in data:
            partner = data["partner"]
        elif role_of(user) == Role.PARTNER:
            partner = Partner.objects.get(pk=partner_id_of(user))
        else:
            partner = None
        if not can_manage_webhook(user, partner):
            raise serializers.ValidationError(
                {
                    "partner": [
                        "Name the partner: only a channel chief or an administrator "
                        "subscribes to every partner's events."
                    ]
                }
            )
        subscription = services.webhook_subscription_create(
            partner=partner,
            url=data["url"],
            event_kinds=data.get("events", []),
            description=data.get("description", ""),
            by=user,
        )
        return Response(
            WebhookWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        tags=["webhooks"],
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer, 400: BAD_REQUEST, 403: ErrorSerializer},
    )
    def partial_update(self, request, *args, **kwargs) -> Response:
        subscription = self.get_object()
        given = WebhookUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        subscription = services.webhook_subscription_update(
            subscription=subscription,
            by=request.user,
            url=data.get("url"),
            event_kinds=data.get("events"),
            description=data.get("description"),
            is_active=data.get("is_active"),
        )
        return Response(WebhookSerializer(subscription).data)

    def perform_destroy(self, instance) -> None:
        services.webhook_subscription_delete(subscription=instance, by=self.request.user)

    @extend_schema(tags=["webhooks"], responses={200: SecretSerializer, 403: ErrorSerializer})
    @action(detail=True, methods=["get"])
    def secret(self, request, pk=None) -> Response:
        """The signing secret, for whoever manages the subscription."""
        subscription = self.get_object()
        return Response(SecretSerializer({"secret": subscription.secret}).data)

    @extend_schema(
        tags=["webhooks"],
        request=None,
        responses={200: SecretSerializer, 403: ErrorSerializer},
        description=(
            "A new secret. The previous one keeps signing beside it for 24 hours (two "
            "signatures in `webhook-signature`), so the receiver can switch in that time."
        ),
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None) -> Response:
        subscription = self.get_object()
        secret = services.webhook_secret_rotate(subscription=subscription, by=request.user)
        return Response(SecretSerializer({"secret": secret}).data)

    @extend_schema(
        tags=["webhooks"],
        responses={200: DeliverySerializer(many=True)},
        description="The subscription's delivery log, newest first (`?status=` filters).",
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None) -> Response:
        subscription = self.get_object()
        rows = deliveries_visible_to(request.user).filter(subscription=subscription)
        wanted = request.query_params.get("status")
        if wanted in DeliveryStatus.values:
            rows = rows.filter(status=wanted)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(tags=["webhooks"]),
    retrieve=extend_schema(tags=["webhooks"]),
)
class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log of the subscriptions the caller sees; redelivery sends an ended one
    again with the same `webhook-id`."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = DeliverySerializer
    permission_classes = [WebhookPermission]
    filterset_fields = {"subscription": ["exact"], "status": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return deliveries_visible_to(self.request.user)

    def get_object(self) -> Model:
        delivery = delivery_for_user(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, delivery)
        return delivery

    @extend_schema(
        tags=["webhooks"],
        request=None,
        responses={202: DeliverySerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        description=(
            "One more attempt of a delivered or failed delivery, now, with the same "
            "`webhook-id`; no automatic retries follow it. 400 while it is still under way "
            "or its subscription is switched off."
        ),
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None) -> Response:
        delivery = self.get_object()
        try:
            delivery = services.webhook_redeliver(delivery=delivery, by=request.user)
        except ValidationError as exc:
            return _refusal(exc)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------- the payloads, documented


class TierChangedData(serializers.Serializer):
    partner_id = serializers.IntegerField()
    from_tier = serializers.CharField(allow_null=True, help_text="Tier slug; null for the first.")
    to_tier = serializers.CharField(help_text="Tier slug.")
    cause = serializers.CharField(help_text="override, advance, demote, exit, …")
    reason = serializers.CharField(allow_blank=True)
    quarter = serializers.CharField(allow_blank=True, help_text="e.g. `2026Q3`; empty if none.")
    changed_at = serializers.DateTimeField()


class RedFlagOpenedData(serializers.Serializer):
    partner_id = serializers.IntegerField()
    red_flag_id = serializers.IntegerField()
    kind = serializers.CharField()
    opened_at = serializers.DateTimeField()
    details = serializers.JSONField(help_text="What the rule found.")


class LeadAssignedData(serializers.Serializer):
    partner_id = serializers.IntegerField()
    lead_id = serializers.IntegerField()
    company_name = serializers.CharField()
    domain = serializers.CharField(allow_blank=True)
    source = serializers.CharField()
    created_at = serializers.DateTimeField()


class PartnerFactsData(serializers.Serializer):
    partner_id = serializers.IntegerField()


MONEY = {"help_text": "A decimal string with two places, e.g. `52000.00`."}


class DealData(serializers.Serializer):
    """A registration as ``deals.services.deal_facts`` tells it, the same for each deal.*
    kind (its ``status`` says where it stands)."""

    deal_id = serializers.IntegerField()
    partner_id = serializers.IntegerField()
    account_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    customer_domain = serializers.CharField(allow_blank=True)
    amount = serializers.CharField(**MONEY)
    currency = serializers.CharField()
    amount_reporting = serializers.CharField(
        help_text="The amount in the reporting currency at the registration day's rate, "
        "a decimal string with two places."
    )
    closed_amount_reporting = serializers.CharField(
        allow_null=True,
        help_text="The won amount in the reporting currency at the close date's rate, "
        "a decimal string with two places.",
    )
    reporting_currency = serializers.CharField(help_text="The program's reporting currency.")
    deal_type = serializers.CharField(help_text="new_logo, upsell, cross_sell, renewal")
    compensation_model = serializers.CharField(help_text="reseller, referral, co_sell, oem")
    status = serializers.CharField(help_text="pending, approved, rejected, won, lost, expired")
    reason = serializers.CharField(allow_blank=True, help_text="Why it was rejected, if it was.")
    direct_conflict = serializers.BooleanField()
    submitted_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    expires_on = serializers.DateField(allow_null=True, help_text="End of its protection.")
    expected_close = serializers.DateField()
    closed_on = serializers.DateField(allow_null=True)
    closed_amount = serializers.CharField(allow_null=True, **MONEY)
    partner_credit = serializers.CharField(allow_null=True, **MONEY)


class ClaimApprovedData(serializers.Serializer):
    claim_id = serializers.IntegerField()
    partner_id = serializers.IntegerField()
    amount = serializers.CharField(**MONEY)
    entry_ids = serializers.ListField(child=serializers.IntegerField())
    decided_at = serializers.DateTimeField()


class LedgerPaidData(serializers.Serializer):
    entry_id = serializers.IntegerField()
    partner_id = serializers.IntegerField()
    kind = serializers.CharField(help_text="spiff, rebate, bonus, award, commission, …")
    code = serializers.CharField(help_text="The rule that earned it, e.g. `spiff_new_logo`.")
    description = serializers.CharField()
    amount = serializers.CharField(**MONEY)  # in the program's reporting currency
    currency = serializers.CharField()
    paid_amount = serializers.CharField(
        help_text="What was paid, in the partner's payment currency at the payment date's "
        "rate: a decimal string with two places, e.g. `48000.00`."
    )
    paid_currency = serializers.CharField(help_text="The partner's payment currency.")
    quarter = serializers.CharField()
    earned_on = serializers.DateField()
    paid_at = serializers.DateTimeField()
    reference = serializers.CharField(help_text="The payment run's reference.")


# The ``data`` of each kind (the apps that publish them write these facts).
WEBHOOK_DATA = {
    EventKind.DEAL_REGISTERED: DealData,
    EventKind.DEAL_APPROVED: DealData,
    EventKind.DEAL_REJECTED: DealData,
    EventKind.DEAL_WON: DealData,
    EventKind.DEAL_EXPIRED: DealData,
    EventKind.CLAIM_APPROVED: ClaimApprovedData,
    EventKind.LEDGER_PAID: LedgerPaidData,
    EventKind.TIER_CHANGED: TierChangedData,
    EventKind.RED_FLAG_OPENED: RedFlagOpenedData,
    EventKind.LEAD_ASSIGNED: LeadAssignedData,
}


def _webhook_doc(kind: EventKind) -> OpenApiWebhook:
    name = "".join(part.title() for part in kind.value.replace(".", "_").split("_"))
    envelope = inline_serializer(
        name=f"{name}Webhook",
        fields={
            "type": serializers.ChoiceField(choices=[(kind.value, kind.label)]),
            "timestamp": serializers.DateTimeField(help_text="When the event happened."),
            "data": WEBHOOK_DATA.get(kind, PartnerFactsData)(),
        },
    )
    return OpenApiWebhook(
        name=kind.value,
        decorator=extend_schema(
            summary=str(kind.label),
            description=(
                "POSTed to each subscription that receives this kind, signed per Standard "
                "Webhooks: headers `webhook-id` (the event's id: the same on every retry and "
                "redelivery), `webhook-timestamp` (Unix seconds of the attempt) and "
                "`webhook-signature` (`v1,<base64 HMAC-SHA256>` of "
                "`<id>.<timestamp>.<body>` with the secret; two, separated by a space, for "
                "24 hours after a rotation). Answer 2xx within 10 seconds; anything else is "
                "retried after 1 min, 5 min, 30 min, 2 h and 6 h."
            ),
            request=envelope,
            responses={
                200: OpenApiResponse(description="Received (any 2xx)."),
                "4XX": OpenApiResponse(description="Not received: retried."),
                "5XX": OpenApiResponse(description="Not received: retried."),
            },
        ),
    )


# One per kind, named by import path in SPECTACULAR_SETTINGS["WEBHOOKS"].
webhook_doc_deal_registered = _webhook_doc(EventKind.DEAL_REGISTERED)
webhook_doc_deal_approved = _webhook_doc(EventKind.DEAL_APPROVED)
webhook_doc_deal_rejected = _webhook_doc(EventKind.DEAL_REJECTED)
webhook_doc_deal_won = _webhook_doc(EventKind.DEAL_WON)
webhook_doc_deal_expired = _webhook_doc(EventKind.DEAL_EXPIRED)
webhook_doc_claim_approved = _webhook_doc(EventKind.CLAIM_APPROVED)
webhook_doc_ledger_paid = _webhook_doc(EventKind.LEDGER_PAID)
webhook_doc_tier_changed = _webhook_doc(EventKind.TIER_CHANGED)
webhook_doc_red_flag_opened = _webhook_doc(EventKind.RED_FLAG_OPENED)
webhook_doc_lead_assigned = _webhook_doc(EventKind.LEAD_ASSIGNED)


def webhooks_as_extension(result: dict, **kwargs) -> dict:
    """drf-spectacular hook: ``webhooks`` is a field of OpenAPI 3.1; a 3.0 document (ours)
    that has it is invalid, so it is moved to ``x-webhooks``, the extension that 3.0 tools
    (Redoc among them) read for the same thing. The payloads' schemas stay in
    ``components``."""
    if result.get("openapi", "").startswith("3.0") and "webhooks" in result:
        result["x-webhooks"] = result.pop("webhooks")
    return result
