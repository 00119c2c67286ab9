"""REST API of the money engine (API.md): ``/ledger/``, ``/incentive-claims/``,
``/mdf/funds/``, ``/mdf/requests/``, ``/mdf/claims/`` and ``/contributions/``.

Every list and object is scoped to the caller (another partner's rows are 404); partner
users file claims and requests for their own partner; channel managers decide for the
partners they manage; finance marks entries paid; the channel chief decides disputes.
"""

from collections.abc import Mapping
from decimal import Decimal

from django.db.models import F, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from partners.models import Partner
from partners.permissions import manages_partner
from partners.queries import partner_id_of
from prm.api import BAD_REQUEST, ErrorSerializer, KeysetPagination, ReasonSerializer
from prm.bounds import column_bounds
from prm.downloads import csv_attachment
from prm.money import money_field_kwargs
from prm.parsers import BoundedJSONParser
from prm.roles import DISPUTE_ROLES, PAYMENT_ROLES, Role, role_of

from .models import (
    ActivityType,
    Contribution,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfFund,
    MdfProof,
    MdfRequest,
)
from .proofs import proof_from_upload
from .queries import (
    approved_for_payment,
    claims_visible_to,
    contributions_visible_to,
    funds_visible_to,
    ledger_csv,
    ledger_visible_to,
    mdf_claims_visible_to,
    mdf_requests_visible_to,
)
from .services.claims import (
    claim_approve,
    claim_dispute,
    claim_reject,
    claim_resolve_dispute,
    claim_submit,
)
from .services.common import CLAIMABLE_KINDS, IncentiveError
from .services.contributions import contribution_decide, contribution_submit
from .services.ledger import award_confirm, award_decline, ledger_mark_paid
from .services.mdf import (
    mdf_claim_approve,
    mdf_claim_reject,
    mdf_claim_submit,
    mdf_request_approve,
    mdf_request_cancel,
    mdf_request_reject,
    mdf_request_submit,
)


def refused(exc: IncentiveError) -> Response:
    return Response({"detail": exc.message, "code": exc.code}, status=exc.status)


def own_partner(request) -> Partner:
    """The caller's partner; only partner users act for a partner here."""
    if role_of(request.user) != Role.PARTNER or partner_id_of(request.user) is None:
        raise PermissionDenied("Only a partner's people file these.")
    return Partner.objects.select_related("program").get(pk=partner_id_of(request.user))


def require_manager(request, partner) -> None:
    if not manages_partner(request.user, partner):
        raise PermissionDenied("Only this partner's channel manager or a chief can do this.")


class ScopedViewSet(viewsets.GenericViewSet):
    """Shared by the viewsets below: run a service, answer its refusals as API errors."""

    def run(self, call, *, serializer_class=None, created=False) -> Response:
        try:
            obj = call()
        except IncentiveError as exc:
            return refused(exc)
        fresh = self.get_queryset().get(pk=obj.pk)
        serializer = (serializer_class or self.get_serializer_class())(
            fresh, context=self.get_serializer_context()
        )
        return Response(
            serializer.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


# ---------------------------------------------------------------- the ledger


class LedgerEntrySerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    # in the request's language (the text the ledger composed, or as it was recorded)
    description = serializers.CharField(source="shown_description", read_only=True)
    source = serializers.CharField(source="source_label", read_only=True)
    source_type = serializers.SerializerMethodField()
    claimable = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField(
        help_text="The number of the program version in force when the entry was decided "
        "(RULEBOOK §12): the one its amount was figured by for rebates, awards, SPIFFs and "
        "bonuses. Null on entries made before versions."
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "partner",
            "partner_name",
            "kind",
            "code",
            "description",
            "amount",
            "currency",
            "partner_amount",
            "partner_currency",
            "partner_rate",
            "partner_rate_day",
            "status",
            "source",
            "source_type",
            "source_id",
            "quarter",
            "earned_on",
            "claim_by",
            "claimable",
            "claim",
            "due_on",
            "approved_at",
            "paid_at",
            "paid_amount",
            "paid_rate",
            "paid_rate_day",
            "payment_reference",
            "void_reason",
            "version",
        ]
        read_only_fields = fields

    def get_source_type(self, obj) -> str | None:
        return obj.source_type.model if obj.source_type_id else None

    def get_version(self, obj) -> int | None:
        if hasattr(obj, "version_number"):  # the list's queryset reads it with the entry
            return obj.version_number
        return obj.version.number if obj.version_id else None

    def get_claimable(self, obj) -> bool:
        return (
            obj.kind in CLAIMABLE_KINDS
            and obj.status == "accrued"
            and obj.claim_id is None
            and obj.claim_by is not None
            and obj.claim_by >= timezone.localdate()
        )


class PaySerializer(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.IntegerField(**column_bounds(LedgerEntry, "id")), allow_empty=False
    )
    reference = serializers.CharField(max_length=120)


class PaidSerializer(serializers.Serializer):
    paid = serializers.IntegerField(read_only=True)


class LedgerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Everything owed to partners: SPIFF, commission, rebate, bonus, award, MDF."""

    queryset = LedgerEntry.objects.all()
    serializer_class = LedgerEntrySerializer
    # Pages by position on the (earned_on, id) index (prm.api.KeysetPagination).
    pagination_class = KeysetPagination
    keyset = ("-earned_on", "-pk")
    filterset_fields = {
        "partner": ["exact"],
        "status": ["exact", "in"],
        "kind": ["exact", "in"],
        "quarter": ["exact"],
        "due_on": ["gte", "lte"],
    }

    def get_queryset(self) -> QuerySet:
        return ledger_visible_to(self.request.user).annotate(version_number=F("version__number"))

    @extend_schema(request=None, responses={200: LedgerEntrySerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None) -> Response:
        """Confirm a proposed award: it becomes owed."""
        entry = self.get_object()
        require_manager(request, entry.partner)
        return self.run(lambda: award_confirm(entry=entry, by=request.user))

    @extend_schema(
        request=ReasonSerializer, responses={200: LedgerEntrySerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None) -> Response:
        """Decline a proposed award, with a reason."""
        entry = self.get_object()
        require_manager(request, entry.partner)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: award_decline(
                entry=entry, by=request.user, reason=body.validated_data["reason"]
            )
        )

    @extend_schema(request=PaySerializer, responses={200: PaidSerializer})
    @action(detail=False, methods=["post"])
    def pay(self, request) -> Response:
        """Finance: mark approved entries paid under a payment run's reference (once)."""
        if role_of(request.user) not in PAYMENT_ROLES:
            raise PermissionDenied("Only finance marks entries paid.")
        body = PaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        paid = ledger_mark_paid(
            entry_ids=body.validated_data["entries"],
            by=request.user,
            reference=body.validated_data["reference"],
        )
        return Response({"paid": paid})

    @extend_schema(
        parameters=[
            OpenApiParameter("due_from", OpenApiTypes.DATE),
            OpenApiParameter("due_to", OpenApiTypes.DATE),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"])
    def export(self, request) -> HttpResponse:
        """Finance: approved entries falling due in a period, as CSV."""
        if role_of(request.user) not in PAYMENT_ROLES:
            raise PermissionDenied("Only finance exports payment runs.")
        dates = {}
        for name in ("due_from", "due_to"):
            value = request.query_params.get(name)
            if value:
                try:
                    dates[name] = serializers.DateField().to_internal_value(value)
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({name: exc.detail}) from exc
        rows = approved_for_payment(due_from=dates.get("due_from"), due_to=dates.get("due_to"))
        return csv_attachment(ledger_csv(rows), filename="ledger-approved.csv")


# ---------------------------------------------------------------- incentive claims


class IncentiveClaimSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    entries = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = IncentiveClaim
        fields = [
            "id",
            "partner",
            "partner_name",
            "entries",
            "amount",
            "note",
            "status",
            "submitted_at",
            "verify_by",
            "overdue",
            "decided_at",
            "rejection_reason",
            "disputed_at",
            "dispute_reason",
            "dispute_decided_at",
            "dispute_note",
        ]
        read_only_fields = fields

    def get_overdue(self, obj) -> bool:
        return obj.status == "submitted" and obj.verify_by < timezone.localdate()


class ClaimCreateSerializer(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.IntegerField(**column_bounds(LedgerEntry, "id")),
        allow_empty=False,
        help_text="Ids of accrued SPIFF and bonus ledger entries of your partner.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ResolveSerializer(serializers.Serializer):
    overturn = serializers.BooleanField(help_text="true: approve the claim; false: uphold.")
    note = serializers.CharField()


class IncentiveClaimViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Claims for accrued SPIFFs and bonuses (RULEBOOK §6 claim process)."""

    queryset = IncentiveClaim.objects.all()
    serializer_class = IncentiveClaimSerializer
    filterset_fields = {"partner": ["exact"], "status": ["exact", "in"]}

    def get_queryset(self) -> QuerySet:
        return claims_visible_to(self.request.user).prefetch_related("entries")

    @extend_schema(
        request=ClaimCreateSerializer,
        responses={201: IncentiveClaimSerializer, 400: BAD_REQUEST, 409: ErrorSerializer},
    )
    def create(self, request, *args, **kwargs) -> Response:
        partner = own_partner(request)
        body = ClaimCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: claim_submit(
                partner=partner,
                entry_ids=body.validated_data["entries"],
                by=request.user,
                note=body.validated_data["note"],
            ),
            created=True,
        )

    @extend_schema(request=None, responses={200: IncentiveClaimSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        claim = self.get_object()
        require_manager(request, claim.partner)
        return self.run(lambda: claim_approve(claim=claim, by=request.user))

    @extend_schema(
        request=ReasonSerializer, responses={200: IncentiveClaimSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        claim = self.get_object()
        require_manager(request, claim.partner)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: claim_reject(claim=claim, by=request.user, reason=body.validated_data["reason"])
        )

    @extend_schema(
        request=ReasonSerializer, responses={200: IncentiveClaimSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None) -> Response:
        """The partner disputes a rejection; the channel chief decides."""
        claim = self.get_object()
        if role_of(request.user) != Role.PARTNER:
            raise PermissionDenied("The partner disputes its own claim.")
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: claim_dispute(
                claim=claim, by=request.user, reason=body.validated_data["reason"]
            )
        )

    @extend_schema(
        request=ResolveSerializer, responses={200: IncentiveClaimSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None) -> Response:
        """The channel chief decides a disputed claim."""
        claim = self.get_object()
        if role_of(request.user) not in DISPUTE_ROLES:
            raise PermissionDenied("Disputes go to the channel chief.")
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: claim_resolve_dispute(claim=claim, by=request.user, **body.validated_data)
        )


# ---------------------------------------------------------------- contributions


class ContributionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contribution
        fields = [
            "id",
            "partner",
            "kind",
            "title",
            "url",
            "description",
            "status",
            "submitted_at",
            "decided_at",
            "reason",
        ]
        read_only_fields = ["id", "partner", "status", "submitted_at", "decided_at", "reason"]


class ContributionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """References and community contributions; approved ones earn a bonus."""

    queryset = Contribution.objects.all()
    serializer_class = ContributionSerializer
    filterset_fields = {"partner": ["exact"], "status": ["exact"], "kind": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return contributions_visible_to(self.request.user).order_by("-submitted_at", "-pk")

    def create(self, request, *args, **kwargs) -> Response:
        partner = own_partner(request)
        body = ContributionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: contribution_submit(partner=partner, by=request.user, **body.validated_data),
            created=True,
        )

    @extend_schema(request=None, responses={200: ContributionSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        contribution = self.get_object()
        require_manager(request, contribution.partner)
        return self.run(
            lambda: contribution_decide(contribution=contribution, by=request.user, approve=True)
        )

    @extend_schema(
        request=ReasonSerializer, responses={200: ContributionSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        contribution = self.get_object()
        require_manager(request, contribution.partner)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: contribution_decide(
                contribution=contribution,
                by=request.user,
                approve=False,
                reason=body.validated_data["reason"],
            )
        )


# ---------------------------------------------------------------- MDF


class MdfFundSerializer(serializers.ModelSerializer):
    available = serializers.DecimalField(**money_field_kwargs(), read_only=True)
    # in the request's language (how the close sized it), or as a manager typed it
    basis = serializers.CharField(source="shown_basis", read_only=True)

    class Meta:
        model = MdfFund
        fields = [
            "id",
            "partner",
            "fiscal_year",
            "amount",
            "match_ratio",
            "basis",
            "reserved",
            "reimbursed",
            "available",
        ]
        read_only_fields = fields


class MdfFundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Each partner's MDF fund per fiscal year, with what is reserved and reimbursed."""

    queryset = MdfFund.objects.all()
    serializer_class = MdfFundSerializer
    filterset_fields = {"partner": ["exact"], "fiscal_year": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return funds_visible_to(self.request.user).order_by("-fiscal_year", "partner__name")


class MdfRequestSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    fiscal_year = serializers.IntegerField(source="fund.fiscal_year", read_only=True)

    class Meta:
        model = MdfRequest
        fields = [
            "id",
            "partner",
            "partner_name",
            "fiscal_year",
            "activity_type",
            "title",
            "description",
            "planned_cost",
            "starts_on",
            "ends_on",
            "expected_leads",
            "campaign",
            "status",
            "reserved_amount",
            "claim_due_on",
            "submitted_at",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = [
            "id",
            "partner",
            "status",
            "reserved_amount",
            "claim_due_on",
            "submitted_at",
            "decided_at",
            "decision_note",
        ]
        extra_kwargs = {
            "planned_cost": {"min_value": Decimal("0.01")},
            "activity_type": {"help_text": ", ".join(ActivityType.values)},
        }


class ApproveMdfSerializer(serializers.Serializer):
    reserve = serializers.DecimalField(
        **column_bounds(MdfRequest, "reserved_amount"),
        required=False,
        allow_null=True,
        help_text="Reserve less than the vendor's share of the planned cost.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField()


class MdfRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """MDF pre-approval requests (RULEBOOK §7); approval reserves funds."""

    queryset = MdfRequest.objects.all()
    serializer_class = MdfRequestSerializer
    filterset_fields = {"partner": ["exact"], "status": ["exact", "in"]}

    def get_queryset(self) -> QuerySet:
        return mdf_requests_visible_to(self.request.user)

    @extend_schema(
        request=MdfRequestSerializer,
        responses={201: MdfRequestSerializer, 400: BAD_REQUEST},
    )
    def create(self, request, *args, **kwargs) -> Response:
        partner = own_partner(request)
        body = MdfRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: mdf_request_submit(partner=partner, by=request.user, **body.validated_data),
            created=True,
        )

    @extend_schema(
        request=ApproveMdfSerializer,
        responses={200: MdfRequestSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        mdf_request = self.get_object()
        require_manager(request, mdf_request.partner)
        body = ApproveMdfSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: mdf_request_approve(request=mdf_request, by=request.user, **body.validated_data)
        )

    @extend_schema(
        request=NoteSerializer, responses={200: MdfRequestSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        mdf_request = self.get_object()
        require_manager(request, mdf_request.partner)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: mdf_request_reject(
                request=mdf_request, by=request.user, note=body.validated_data["note"]
            )
        )

    @extend_schema(request=None, responses={200: MdfRequestSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None) -> Response:
        """The partner withdraws a request not yet claimed; its reservation is released."""
        mdf_request = self.get_object()
        if role_of(request.user) != Role.PARTNER:
            require_manager(request, mdf_request.partner)
        return self.run(lambda: mdf_request_cancel(request=mdf_request, by=request.user))


class MdfProofSerializer(serializers.ModelSerializer):
    class Meta:
        model = MdfProof
        fields = ["id", "name", "size", "content_type", "uploaded_at"]
        read_only_fields = fields


class MdfClaimSerializer(serializers.ModelSerializer):
    proofs = MdfProofSerializer(many=True, read_only=True)
    request_title = serializers.CharField(source="request.title", read_only=True)

    class Meta:
        model = MdfClaim
        fields = [
            "id",
            "partner",
            "request",
            "request_title",
            "actual_cost",
            "leads_generated",
            "notes",
            "status",
            "reimbursement",
            "submitted_at",
            "decided_at",
            "reason",
            "proofs",
        ]
        read_only_fields = fields


class MdfClaimCreateSerializer(serializers.Serializer):
    request = serializers.IntegerField(
        **column_bounds(MdfRequest, "id"), help_text="The approved MDF request."
    )
    actual_cost = serializers.DecimalField(
        **column_bounds(MdfClaim, "actual_cost", min_value=Decimal("0.01"))
    )
    leads_generated = serializers.IntegerField(**column_bounds(MdfClaim, "leads_generated"))
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    files = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        help_text="Proof-of-performance files (multipart), at least one.",
    )


class MdfClaimViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Proof of performance and reimbursement of approved MDF activities."""

    queryset = MdfClaim.objects.all()
    serializer_class = MdfClaimSerializer
    parser_classes = [MultiPartParser, FormParser, BoundedJSONParser]
    filterset_fields = {"partner": ["exact"], "status": ["exact", "in"], "request": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return mdf_claims_visible_to(self.request.user)

    @extend_schema(
        request={"multipart/form-data": MdfClaimCreateSerializer},
        responses={201: MdfClaimSerializer, 400: BAD_REQUEST, 409: ErrorSerializer},
    )
    def create(self, request, *args, **kwargs) -> Response:
        partner = own_partner(request)
        # The fields by value and the files by reference, never a copy of the body: a
        # QueryDict's copy() is a deep copy, and a file spooled to disk (past
        # FILE_UPLOAD_MAX_MEMORY_SIZE) cannot be copied; storage streams it from there.
        if not isinstance(request.data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Send the claim as a form or a JSON object.")]}
            )
        data = {key: request.data.get(key) for key in request.data if key != "files"}
        data["files"] = request.FILES.getlist("files")
        body = MdfClaimCreateSerializer(data=data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        mdf_request = MdfRequest.objects.filter(partner=partner, pk=values["request"]).first()
        if mdf_request is None:
            raise serializers.ValidationError({"request": "No such MDF request of yours."})
        files = [proof_from_upload(upload) for upload in values["files"]]
        return self.run(
            lambda: mdf_claim_submit(
                request=mdf_request,
                by=request.user,
                actual_cost=values["actual_cost"],
                leads_generated=values["leads_generated"],
                notes=values["notes"],
                files=files,
            ),
            created=True,
        )

    @extend_schema(request=None, responses={200: MdfClaimSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        claim = self.get_object()
        require_manager(request, claim.partner)
        return self.run(lambda: mdf_claim_approve(claim=claim, by=request.user))

    @extend_schema(
        request=ReasonSerializer, responses={200: MdfClaimSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        claim = self.get_object()
        require_manager(request, claim.partner)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.run(
            lambda: mdf_claim_reject(
                claim=claim, by=request.user, reason=body.validated_data["reason"]
            )
        )
