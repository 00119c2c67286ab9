"""REST API for deal registrations and conflict cases (API.md ``/deals/…``)."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from incentives.models import MdfRequest
from incentives.queries import mdf_requests_visible_to
from partners.models import Partner
from partners.permissions import manages_partner
from partners.queries import partner_id_of, partners_visible_to
from prm.api import BAD_REQUEST, ErrorSerializer, KeysetPagination, ReasonSerializer
from prm.bounds import column_bounds
from prm.roles import MANAGER_ROLES, Role, role_of

from . import rules, services
from .models import (
    CompensationModel,
    ConflictCase,
    ConflictScenario,
    Deal,
    DealType,
    Product,
)
from .queries import conflicts_visible_to, deals_visible_to


def error_response(exc: services.DealError) -> Response:
    return Response({"detail": exc.message, "code": exc.code}, status=exc.status)


class ReviewMatchSerializer(serializers.Serializer):
    """The other partner's registration a held one probably duplicates (managers only)."""

    deal = serializers.IntegerField(source="pk", read_only=True)
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    partner_name = serializers.CharField(source="partner.name")
    account = serializers.IntegerField(source="account_id", read_only=True)
    customer_name = serializers.CharField()
    customer_domain = serializers.CharField()
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class DealSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    review_match = serializers.SerializerMethodField(
        help_text="Managers only: the other partner's registration a held one probably "
        "duplicates (RULEBOOK §4). Partners are never told who holds it."
    )
    products = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    message = serializers.SerializerMethodField(help_text="Why it was rejected, in words.")
    approval_due_at = serializers.SerializerMethodField()
    protection_days_left = serializers.SerializerMethodField()

    class Meta:
        model = Deal
        fields = [
            "id",
            "partner",
            "partner_name",
            "account",
            "customer_name",
            "customer_domain",
            "amount",
            "currency",
            "amount_reporting",
            "amount_rate",
            "amount_rate_day",
            "expected_close",
            "products",
            "deal_type",
            "compensation_model",
            "contract_years",
            "notes",
            "status",
            "reason",
            "reason_note",
            "message",
            "submitted_at",
            "submitted_by",
            "approval_due_at",
            "approved_at",
            "auto_approved",
            "expires_on",
            "protection_days_left",
            "extended",
            "extension_justification",
            "direct_conflict",
            "co_sell_partner_share",
            "oem_discount",
            "closed_on",
            "closed_amount",
            "closed_amount_reporting",
            "closed_rate",
            "closed_rate_day",
            "protected_when_won",
            "margin_rate",
            "partner_credit",
            "partner_price",
            "commission",
            "csat",
            "csat_surveyed_on",
            "imported",
            "needs_review",
            "review_reason",
            "review_match",
        ]
        read_only_fields = fields

    @extend_schema_field(ReviewMatchSerializer(allow_null=True))
    def get_review_match(self, obj) -> dict | None:
        request = self.context.get("request")
        if obj.review_match_id is None or request is None:
            return None
        if role_of(request.user) == Role.PARTNER:
            return None  # a partner learns its registration is held, never who holds the other
        return ReviewMatchSerializer(obj.review_match).data

    def get_message(self, obj) -> str:
        return rules.MESSAGES.get(obj.reason, "")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_approval_due_at(self, obj) -> str | None:
        if obj.status != "pending":
            return None
        due = rules.approval_due_at(obj.submitted_at, obj.partner.program.registration_sla_hours)
        return serializers.DateTimeField().to_representation(due)

    def get_protection_days_left(self, obj) -> int | None:
        return obj.protection_days_left(timezone.localdate())


class ScopedMdfRequestField(serializers.PrimaryKeyRelatedField):
    """An MDF request the caller may see; any other id is answered as not found."""

    def get_queryset(self) -> QuerySet:
        return mdf_requests_visible_to(self.context["request"].user)


class DealCreateSerializer(serializers.Serializer):
    customer_name = serializers.CharField(max_length=200)
    customer_domain = serializers.CharField(max_length=255, required=False, allow_blank=True)
    # The column's range; the program's maximum deal amount is the service's to check.
    amount = serializers.DecimalField(
        **column_bounds(Deal, "amount", min_value=rules.MIN_DEAL_AMOUNT)
    )
    currency = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="ISO 4217 code of the amount (e.g. EUR); default: the program's reporting "
        "currency. The amount is converted at the rate of the submission's day.",
    )
    expected_close = serializers.DateField()
    products = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Product.objects.filter(is_active=True),
        many=True,
        required=False,
    )
    deal_type = serializers.ChoiceField(choices=DealType.choices)
    compensation_model = serializers.ChoiceField(choices=CompensationModel.choices)
    contract_years = serializers.IntegerField(min_value=1, max_value=10, default=1)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    co_sell_partner_share = serializers.DecimalField(
        **column_bounds(Deal, "co_sell_partner_share"), required=False, allow_null=True
    )
    oem_discount = serializers.DecimalField(
        **column_bounds(Deal, "oem_discount"), required=False, allow_null=True
    )
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.all(),
        required=False,
        help_text="Managers only: the partner whose registration is imported.",
    )
    submitted_at = serializers.DateTimeField(
        required=False, help_text="Managers only: a past submission (import of history)."
    )
    approved_at = serializers.DateTimeField(required=False, help_text="Managers only.")
    mdf_request = ScopedMdfRequestField(
        queryset=MdfRequest.objects.all(),
        required=False,
        allow_null=True,
        help_text="The partner's own approved MDF activity that sourced the deal (for MDF "
        "return). Another partner's is answered as not found.",
    )

    def validate_partner(self, partner) -> Partner:
        user = self.context["request"].user
        if not partners_visible_to(user).filter(pk=partner.pk).exists():
            raise serializers.ValidationError("No such partner.")
        return partner


class JustificationSerializer(serializers.Serializer):
    justification = serializers.CharField()


class WinSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        **column_bounds(Deal, "closed_amount", min_value=rules.MIN_DEAL_AMOUNT)
    )
    closed_on = serializers.DateField(
        help_text="The day the deal closed, which may be in the past: the win is judged "
        "as of that day (RULEBOOK §4)."
    )
    csat = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    surveyed_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="When the customer gave the CSAT (default: the close date); it counts in "
        "that quarter.",
    )


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[
            ("separate", "A separate customer: approve the registration"),
            ("same", "The same customer: reject it as registered by another partner"),
        ]
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LoseSerializer(serializers.Serializer):
    closed_on = serializers.DateField(required=False)


class DealViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Deal registrations in the caller's scope. Partner users register; managers decide."""

    queryset = Deal.objects.all()
    serializer_class = DealSerializer
    # Pages by position on the (submitted_at, id) index: a chief's list of millions
    # answers its thousandth page as fast as its first (prm.api.KeysetPagination).
    pagination_class = KeysetPagination
    keyset = ("-submitted_at", "-pk")
    filterset_fields = {
        "status": ["exact", "in"],
        "partner": ["exact"],
        "needs_review": ["exact"],
        "direct_conflict": ["exact"],
        "deal_type": ["exact"],
        "compensation_model": ["exact"],
        "submitted_at": ["gte", "lte"],
    }

    def get_queryset(self) -> QuerySet:
        return deals_visible_to(self.request.user).order_by("-submitted_at", "-pk")

    def _manager_of(self, deal: Deal) -> None:
        if not manages_partner(self.request.user, deal.partner):
            raise PermissionDenied("Only this partner's channel manager or a chief can do this.")

    @extend_schema(
        request=DealCreateSerializer,
        responses={201: DealSerializer, 400: BAD_REQUEST, 403: ErrorSerializer},
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = DealCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        role = role_of(request.user)
        partner = data.pop("partner", None)
        import_fields = {k: data.pop(k) for k in ("submitted_at", "approved_at") if k in data}
        if role == Role.PARTNER:
            if partner is not None or import_fields:
                raise PermissionDenied("Partners register for themselves, as of now.")
            partner = Partner.objects.select_related("program").get(pk=partner_id_of(request.user))
        elif role in MANAGER_ROLES:
            if partner is None:
                raise serializers.ValidationError({"partner": "Name the partner to import for."})
            if not manages_partner(request.user, partner):
                raise PermissionDenied(
                    "Only this partner's channel manager or a chief can do this."
                )
        else:
            raise PermissionDenied("Only partner users and managers register deals.")
        # The answer is read inside the registration's transaction, so its commit is the
        # request's last word with the database: if the database goes away first, the
        # partner is told 503 and nothing was stored; a 201 means it was.
        try:
            with transaction.atomic():
                deal = services.deal_register(
                    partner=partner,
                    submitted_by=request.user,
                    products=data.pop("products", []),
                    **data,
                    **import_fields,
                )
                body = self.get_serializer(deal).data
        except services.DealError as exc:
            return error_response(exc)
        return Response(body, status=status.HTTP_201_CREATED)

    def _act(self, request, pk, run):
        deal = self.get_object()
        try:
            deal = run(deal)
        except services.DealError as exc:
            return error_response(exc)
        return Response(self.get_serializer(deals_visible_to(request.user).get(pk=deal.pk)).data)

    @extend_schema(request=None, responses={200: DealSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        def run(deal):
            self._manager_of(deal)
            return services.deal_approve(deal=deal, by=request.user)

        return self._act(request, pk, run)

    @extend_schema(request=ReasonSerializer, responses={200: DealSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        def run(deal):
            self._manager_of(deal)
            body = ReasonSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            return services.deal_reject(
                deal=deal, by=request.user, reason=body.validated_data["reason"]
            )

        return self._act(request, pk, run)

    @extend_schema(
        request=ReviewSerializer,
        responses={200: DealSerializer, 409: ErrorSerializer},
        description="Decide a registration held as a probable same customer (RULEBOOK §4).",
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None) -> Response:
        def run(deal):
            self._manager_of(deal)
            body = ReviewSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            return services.deal_review_decide(
                deal=deal,
                by=request.user,
                same_customer=body.validated_data["decision"] == "same",
                note=body.validated_data["note"],
            )

        return self._act(request, pk, run)

    @extend_schema(
        request=JustificationSerializer, responses={200: DealSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None) -> Response:
        def run(deal):
            is_own = role_of(request.user) == Role.PARTNER
            if not is_own:
                self._manager_of(deal)
            body = JustificationSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            return services.deal_extend(
                deal=deal, by=request.user, justification=body.validated_data["justification"]
            )

        return self._act(request, pk, run)

    @extend_schema(request=WinSerializer, responses={200: DealSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def win(self, request, pk=None) -> Response:
        def run(deal):
            self._manager_of(deal)
            body = WinSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            return services.deal_win(deal=deal, by=request.user, **body.validated_data)

        return self._act(request, pk, run)

    @extend_schema(request=LoseSerializer, responses={200: DealSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def lose(self, request, pk=None) -> Response:
        def run(deal):
            self._manager_of(deal)
            body = LoseSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            return services.deal_lose(deal=deal, by=request.user, **body.validated_data)

        return self._act(request, pk, run)


class ConflictCaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConflictCase
        fields = [
            "id",
            "scenario",
            "account",
            "partner",
            "other_partner",
            "deal",
            "other_deal",
            "direct_rep",
            "status",
            "opened_at",
            "sla_due_at",
            "escalation_step",
            "escalated_at",
            "resolution",
            "resolved_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        if role_of(self.context["request"].user) == Role.PARTNER:
            # A partner learns that a conflict exists, never who the other party is.
            for field in ("other_partner", "other_deal", "direct_rep"):
                data[field] = None
        return data


class ConflictCaseCreateSerializer(serializers.Serializer):
    scenario = serializers.ChoiceField(choices=ConflictScenario.choices)
    partner = serializers.PrimaryKeyRelatedField(queryset=Partner.objects.all())
    other_partner = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.all(), required=False, allow_null=True
    )
    direct_rep = serializers.EmailField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ResolutionSerializer(serializers.Serializer):
    resolution = serializers.CharField()


class ConflictCaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Channel-conflict cases (RULEBOOK §9): SLA, escalation step, resolution."""

    queryset = ConflictCase.objects.all()
    serializer_class = ConflictCaseSerializer
    filterset_fields = {"status": ["exact"], "scenario": ["exact"], "partner": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return conflicts_visible_to(self.request.user).order_by("sla_due_at")

    def _manager_of(self, partner: Partner) -> None:
        if not manages_partner(self.request.user, partner):
            raise PermissionDenied("Only this partner's channel manager or a chief can do this.")

    @extend_schema(request=ConflictCaseCreateSerializer, responses={201: ConflictCaseSerializer})
    def create(self, request, *args, **kwargs) -> Response:
        body = ConflictCaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not partners_visible_to(request.user).filter(pk=data["partner"].pk).exists():
            raise serializers.ValidationError({"partner": "No such partner."})
        self._manager_of(data["partner"])
        case = services.conflict_case_open(opened_by=request.user, **data)
        return Response(self.get_serializer(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ResolutionSerializer,
        responses={200: ConflictCaseSerializer, 400: BAD_REQUEST, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None) -> Response:
        case = self.get_object()
        self._manager_of(case.partner)
        body = ResolutionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            case = services.conflict_case_resolve(
                case=case, by=request.user, resolution=body.validated_data["resolution"]
            )
        except services.DealError as exc:
            return error_response(exc)
        return Response(self.get_serializer(case).data)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: ConflictCaseSerializer, 400: BAD_REQUEST, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None) -> Response:
        case = self.get_object()
        self._manager_of(case.partner)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            case = services.conflict_case_escalate(
                case=case, by=request.user, reason=body.validated_data["reason"]
            )
        except services.DealError as exc:
            return error_response(exc)
        return Response(self.get_serializer(case).data)
