"""REST API: scorecards, red flags, the quarter close, QBRs and business plans (API.md)."""

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.models import RedFlag
from partners.queries import partners_visible_to
from prm.api import BAD_REQUEST, ErrorSerializer
from prm.api_errors import Conflict
from prm.money import money_field_kwargs
from prm.roles import VENDOR_ROLES, Role, role_of

from . import tasks
from .dashboard import dashboard, dashboard_request, dashboard_scope
from .models import (
    DISPUTE_TEXT_MAX,
    JointBusinessPlan,
    Qbr,
    QbrActionItem,
    QuarterClose,
    Scorecard,
    ScorecardDispute,
)
from .queries import (
    business_plan_progress,
    business_plans_visible_to,
    qbr_overdue,
    qbrs_visible_to,
    qbrs_with_overdue,
    red_flags_visible_to,
    scorecard_explanation,
    scorecard_weights,
    scorecards_visible_to,
)
from .services.close import CloseRefused, QuarterNotEnded, quarter_close_request, weights_for
from .services.disputes import DisputeError, dispute_raise


class ScorecardDisputeSerializer(serializers.ModelSerializer):
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    answered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ScorecardDispute
        fields = [
            "id",
            "scorecard",
            "status",
            "reason",
            "raised_by",
            "raised_at",
            "answer",
            "answered_by",
            "answered_at",
        ]
        read_only_fields = fields


class DisputeRaiseSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=DISPUTE_TEXT_MAX, help_text="Why the partner disputes the scorecard."
    )


class ExplanationSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    label = serializers.CharField(help_text="In the request's language.")
    points = serializers.DecimalField(max_digits=5, decimal_places=2)
    max_points = serializers.CharField()
    lines = serializers.ListField(
        child=serializers.CharField(), help_text="The inputs and the arithmetic, in words."
    )


class ScorecardSerializer(serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(source="tier_before", slug_field="slug", read_only=True)
    explanation = serializers.SerializerMethodField()
    disputes = ScorecardDisputeSerializer(many=True, read_only=True)
    qualified_tier = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tier_after = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(
        source="version.number",
        read_only=True,
        allow_null=True,
        help_text="The number of the program version it was decided under (RULEBOOK §12).",
    )

    class Meta:
        model = Scorecard
        fields = [
            "id",
            "partner",
            "quarter",
            "total",
            "band",
            "revenue",
            "pipeline",
            "certification",
            "satisfaction",
            "engagement",
            "csat_no_data",
            "inputs",
            "tier",
            "qualified_tier",
            "decision",
            "tier_after",
            "closed_at",
            "version",
            "explanation",
            "disputes",
        ]
        read_only_fields = fields

    @extend_schema_field(ExplanationSerializer(many=True))
    def get_explanation(self, card) -> list[dict]:
        """Each dimension's inputs and arithmetic, with the program's weights (one
        computation of them per program and request)."""
        program = card.partner.program
        weights = self.context.setdefault("_weights", {})
        key = ("version", card.version_id) if card.version_id else ("program", program.pk)
        if key not in weights:
            weights[key] = scorecard_weights(card, weights_for(program))
        return scorecard_explanation(card, weights[key], program.currency)


class ScorecardViewSet(viewsets.ReadOnlyModelViewSet):
    """Quarterly scorecards in the caller's scope (RULEBOOK §2), each explained, with its
    disputes; ``POST /scorecards/{id}/disputes/`` disputes one (the partner's people)."""

    queryset = Scorecard.objects.all()
    serializer_class = ScorecardSerializer
    filterset_fields = {"partner": ["exact"], "quarter": ["exact"], "band": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return (
            scorecards_visible_to(self.request.user)
            .select_related("partner__program", "version")
            .prefetch_related(
                Prefetch(
                    "disputes",
                    queryset=ScorecardDispute.objects.select_related("raised_by", "answered_by"),
                )
            )
            .order_by("-quarter", "partner_id")
        )

    @extend_schema(
        summary="Dispute a scorecard",
        request=DisputeRaiseSerializer,
        responses={
            201: ScorecardDisputeSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], url_path="disputes")
    def disputes(self, request, pk=None) -> Response:
        """Dispute the scorecard with a reason (at most 2,000 characters); one open dispute
        per scorecard (409 while one waits for its answer). Its channel manager answers."""
        card = self.get_object()
        body = DisputeRaiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            dispute = dispute_raise(
                scorecard=card, by=request.user, reason=body.validated_data["reason"]
            )
        except DisputeError as exc:
            if exc.code == "forbidden":
                raise PermissionDenied(exc.message) from exc
            if exc.code == "already_open":
                raise Conflict(exc.message) from exc
            return Response(
                {"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(ScorecardDisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class RedFlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = RedFlag
        fields = ["id", "partner", "kind", "status", "opened_at", "resolved_at", "details"]
        read_only_fields = fields


class RedFlagViewSet(viewsets.ReadOnlyModelViewSet):
    """Red flags (RULEBOOK §8) in the caller's scope."""

    queryset = RedFlag.objects.all()
    serializer_class = RedFlagSerializer
    filterset_fields = {"partner": ["exact"], "status": ["exact"], "kind": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return red_flags_visible_to(self.request.user).order_by("-opened_at")


class QuarterCloseSerializer(serializers.ModelSerializer):
    job = serializers.IntegerField(source="pk", read_only=True)
    progress = serializers.IntegerField(read_only=True)

    class Meta:
        model = QuarterClose
        fields = [
            "job",
            "quarter",
            "state",
            "progress",
            "partners_total",
            "partners_done",
            "tier_changes",
            "flags_opened",
            "runs",
            "requested_at",
            "started_at",
            "finished_at",
            "timings",
            "error",
        ]
        read_only_fields = fields


class ChiefOrAdminWrites(permissions.BasePermission):
    message = "Only the channel chief or an admin can close a quarter."

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if request.method in permissions.SAFE_METHODS:
            return role in (Role.CHANNEL_CHIEF, Role.ADMIN, Role.EXECUTIVE, Role.CHANNEL_MANAGER)
        return role in (Role.CHANNEL_CHIEF, Role.ADMIN)


class QuarterViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The quarter close: ``POST /quarters/2026Q3/close/`` queues it, ``GET`` shows its state."""

    queryset = QuarterClose.objects.all()
    serializer_class = QuarterCloseSerializer
    permission_classes = [ChiefOrAdminWrites]
    lookup_field = "quarter"
    lookup_value_regex = r"\d{4}Q[1-4]"
    # Program-wide, not a partner's: the scope sweep knows not to expect 404s here.
    shared_resource = True

    @extend_schema(
        request=None,
        responses={202: QuarterCloseSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        parameters=[OpenApiParameter("quarter", str, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, quarter=None) -> Response:
        """409 for a quarter not yet ended; 400 for one that ended before the program's
        first partner started (RULEBOOK §2)."""
        try:
            close = quarter_close_request(quarter=quarter, by=request.user)
        except QuarterNotEnded as exc:
            raise Conflict(str(exc)) from exc
        except CloseRefused as exc:
            return Response(
                {"detail": str(exc), "code": exc.code}, status=status.HTTP_400_BAD_REQUEST
            )
        tasks.close_enqueue(close)
        return Response(self.get_serializer(close).data, status=status.HTTP_202_ACCEPTED)


def _plain(value):
    """Money and ratios as strings (API.md: money as strings with 2 decimals)."""
    from decimal import Decimal

    from django.utils.functional import Promise

    if isinstance(value, Decimal | Promise):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class DashboardView(APIView):
    """The executive dashboard's figures as JSON: executives, channel chiefs, finance and
    admins see the whole program; channel managers their own partners."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("quarter", str, description="e.g. 2026Q3; default: this quarter"),
            OpenApiParameter("tier", str, description="tier slug"),
            OpenApiParameter("manager", int, description="channel manager id"),
            OpenApiParameter("region", str, description="americas, emea or apac"),
            OpenApiParameter(
                "program",
                int,
                description="program id; when the partners' programs report in several "
                "currencies, the default program's figures (sums never mix currencies)",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: BAD_REQUEST, 403: ErrorSerializer},
    )
    def get(self, request) -> Response:
        if role_of(request.user) not in VENDOR_ROLES:
            raise PermissionDenied("The dashboard is for the vendor's staff.")
        try:
            quarter, filters = dashboard_request(request.query_params)
        except ValueError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        partners, filters, currency = dashboard_scope(partners_visible_to(request.user), filters)
        figures = dashboard(partners, quarter, today=timezone.localdate(), currency=currency)
        return Response(_plain(figures))


# ---------------------------------------------------------------- QBRs and business plans


class QbrActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()
    done = serializers.SerializerMethodField()

    class Meta:
        model = QbrActionItem
        fields = ["id", "text", "owner", "due_on", "done", "done_at"]
        read_only_fields = fields

    def get_owner(self, obj) -> str:
        return obj.owner_display

    def get_done(self, obj) -> bool:
        return obj.done_at is not None


class CheckInSerializer(serializers.Serializer):
    day = serializers.DateField()
    kind = serializers.CharField()


class QbrSerializer(serializers.ModelSerializer):
    reviewed_quarter = serializers.CharField(read_only=True)
    held_by = serializers.StringRelatedField()
    check_ins = serializers.SerializerMethodField()
    action_items = QbrActionItemSerializer(many=True, read_only=True)
    overdue = serializers.BooleanField(
        read_only=True,
        help_text="Still scheduled, and its day has passed without it being held.",
    )

    class Meta:
        model = Qbr
        fields = [
            "id",
            "partner",
            "quarter",
            "reviewed_quarter",
            "status",
            "overdue",
            "scheduled_for",
            "held_on",
            "held_by",
            "cadence",
            "check_ins",
            "shared_with_partner",
            "prepared_at",
            "sections",
            "notes",
            "action_items",
        ]
        read_only_fields = fields

    @extend_schema_field(CheckInSerializer(many=True))
    def get_check_ins(self, obj) -> list[dict]:
        return [{"day": day, "kind": kind} for day, kind in obj.check_ins()]


class QbrFilter(django_filters.FilterSet):
    # A choice rather than a BooleanFilter, which takes any other word for "no filter":
    # ``?overdue=sometimes`` is a 400 that names the parameter.
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_overdue",
        label="true: only scheduled QBRs whose day has passed without being held; "
        "false: all the others.",
    )

    class Meta:
        model = Qbr
        fields = {"partner": ["exact"], "quarter": ["exact"], "status": ["exact"]}

    def filter_overdue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        condition = qbr_overdue(timezone.localdate())
        return queryset.filter(condition) if value == "true" else queryset.exclude(condition)


class QbrViewSet(viewsets.ReadOnlyModelViewSet):
    """Quarterly business reviews (RULEBOOK §10) in the caller's scope; a partner's people
    see those shared with them. ``quarter`` is the quarter the meeting is held in."""

    queryset = Qbr.objects.all()
    serializer_class = QbrSerializer
    filterset_class = QbrFilter

    def get_queryset(self) -> QuerySet:
        return qbrs_with_overdue(qbrs_visible_to(self.request.user), timezone.localdate()).order_by(
            "-quarter", "partner_id"
        )


class PlanProgressSerializer(serializers.Serializer):
    revenue_to_date = serializers.DecimalField(**money_field_kwargs(), read_only=True)
    remaining = serializers.DecimalField(**money_field_kwargs(), read_only=True)
    percent = serializers.IntegerField(read_only=True)


class JointBusinessPlanSerializer(serializers.ModelSerializer):
    target_accounts = serializers.ListField(
        child=serializers.CharField(), source="target_account_lines", read_only=True
    )
    planned_activities = serializers.ListField(
        child=serializers.CharField(), source="activity_lines", read_only=True
    )
    progress = serializers.SerializerMethodField()

    class Meta:
        model = JointBusinessPlan
        fields = [
            "id",
            "partner",
            "fiscal_year",
            "revenue_goal",
            "target_accounts",
            "planned_activities",
            "notes",
            "progress",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PlanProgressSerializer)
    def get_progress(self, obj) -> dict:
        shown = self.context["progress"][obj.pk]
        return PlanProgressSerializer(shown).data


class JointBusinessPlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Joint business plans in the caller's scope, each with its goal against the fiscal
    year's revenue so far (RULEBOOK §10)."""

    queryset = JointBusinessPlan.objects.all()
    serializer_class = JointBusinessPlanSerializer
    filterset_fields = {"partner": ["exact"], "fiscal_year": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return business_plans_visible_to(self.request.user)

    def _serialize(self, plans, many: bool):
        progress = business_plan_progress(plans if many else [plans], timezone.localdate())
        context = {**self.get_serializer_context(), "progress": progress}
        return JointBusinessPlanSerializer(plans, many=many, context=context).data

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._serialize(page, many=True))

    def retrieve(self, request, *args, **kwargs) -> Response:
        return Response(self._serialize(self.get_object(), many=False))
