"""REST API for programs, partners, partner users, accounts and leads (API.md)."""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.api import (
    BAD_REQUEST,
    ErrorSerializer,
    ManagerWritesOthersRead,
    ScopedPrimaryKeyRelatedField,
)
from prm.money import money_field_kwargs
from prm.roles import Role, role_of

from . import services
from .models import (
    Account,
    ApiToken,
    DeclineReason,
    Lead,
    LeadCloseReason,
    LeadOffer,
    LeadSource,
    LeadStatus,
    Partner,
    PartnerRole,
    PartnerUser,
    Program,
    Specialty,
    Tier,
    User,
)
from .permissions import can_invite_partner_users, manages_partner
from .queries import (
    account_for_user,
    accounts_visible_to,
    channel_managers,
    channel_managers_assignable_by,
    lead_for_user,
    leads_held_visible_to,
    leads_visible_to,
    members_visible_to,
    partner_for_user,
    partner_id_of,
    partners_visible_to,
    partners_writable_by,
    programs_with_tiers,
)
from .services import leads as lead_services

# ---------------------------------------------------------------- auth


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or e-mail address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=(
            "The current code of the account's authenticator app, or one of its recovery "
            "codes: required for staff accounts and for anyone who turned two-factor "
            "sign-in on."
        ),
    )
    client = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text=(
            'What the token is for ("CRM sync", "laptop"). Asking again under the same '
            "name replaces that client's earlier token."
        ),
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once: only a digest of it is stored.")
    expires_at = serializers.DateTimeField()
    client = serializers.CharField()


class TokenView(APIView):
    """API tokens: ``POST`` exchanges credentials for a new token, ``DELETE`` revokes the
    token the request is made with. Send it as ``Authorization: Token <token>``."""

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    def perform_authentication(self, request) -> None:
        # Asking for a token needs no token: a client still sending its expired one is
        # not refused for it.
        if request.method != "POST":
            super().perform_authentication(request)

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description=(
                    "Field errors, or `{detail, code}` with `code` one of "
                    "`invalid_credentials` (also for a switched-off login), `mfa_required`, "
                    "`mfa_invalid`, `mfa_setup_required`, `sso_required` (the organisation "
                    "signs in through its identity provider only)."
                ),
            ),
            429: ErrorSerializer,
        },
        tags=["auth"],
        auth=[],
        description=(
            "A new token for a username and password (and a two-factor `code` where the "
            "account has one). Tokens expire (`expires_at`); each client gets its own. "
            "Failed attempts are counted per username and per address: past the limit "
            "every attempt is answered 429 with `Retry-After`, even with the right password."
        ),
    )
    def post(self, request, *args, **kwargs) -> Response:
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            token, key = services.api_token_sign_in(
                request=request._request, **given.validated_data
            )
        except services.SignInRefused as refused:
            if refused.retry_after is not None:
                raise Throttled(wait=refused.retry_after, detail=refused.message) from None
            return Response({"detail": refused.message, "code": refused.code}, status=400)
        answer = TokenResponseSerializer(
            {"token": key, "expires_at": token.expiry, "client": token.client}
        ).data
        return Response(answer, headers={"Cache-Control": "no-store"})

    @extend_schema(responses={204: None, 400: ErrorSerializer}, tags=["auth"])
    def delete(self, request, *args, **kwargs) -> Response:
        if not isinstance(request.auth, ApiToken):
            return Response(
                {
                    "detail": "Send the token to revoke: Authorization: Token <token>.",
                    "code": "no_token",
                },
                status=400,
            )
        services.api_tokens_revoke(
            tokens=ApiToken.objects.filter(digest=request.auth.digest), by=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- programs


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["slug", "rank", *Tier.TERMS]


class ProgramSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = Program
        fields = [
            "id",
            "name",
            "slug",
            "is_default",
            "currency",
            "fiscal_year_start_month",
            "tiers",
        ]


class ProgramViewSet(viewsets.ReadOnlyModelViewSet):
    """Programs with their tier tables; readable by every signed-in user."""

    queryset = Program.objects.all()
    serializer_class = ProgramSerializer
    # Program data is the same for every partner: the scope sweep knows not to expect 404s.
    shared_resource = True

    def get_queryset(self) -> QuerySet:
        return programs_with_tiers()


# ---------------------------------------------------------------- partners


class PartnerSerializer(serializers.ModelSerializer):
    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all(), required=False)
    tier = serializers.SlugField(
        required=False, help_text="Tier slug of the partner's program, e.g. `silver`."
    )
    tier_name = serializers.CharField(source="tier.name", read_only=True)
    channel_manager = ScopedPrimaryKeyRelatedField(
        scope=channel_managers_assignable_by,
        queryset=channel_managers(),
        required=False,
        allow_null=True,
        help_text="A channel manager assigns only themselves; chiefs and admins anyone.",
    )
    score = serializers.DecimalField(
        source="latest_score", max_digits=5, decimal_places=2, read_only=True, allow_null=True
    )
    score_quarter = serializers.CharField(source="latest_score_quarter", read_only=True)
    effective_annual_quota = serializers.DecimalField(**money_field_kwargs(), read_only=True)
    tier_reason = serializers.CharField(
        write_only=True, required=False, help_text="Required when PATCH changes the tier."
    )

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "domain",
            "program",
            "tier",
            "tier_name",
            "status",
            "annual_quota",
            "effective_annual_quota",
            "agreement_signed_on",
            "started_on",
            "channel_manager",
            "score",
            "score_quarter",
            "created_at",
            "tier_reason",
        ]
        read_only_fields = ["created_at"]

    def validate_channel_manager(self, value) -> User | None:
        # No manager puts a partner out of every channel manager's scope; like handing it
        # to a colleague, that is for a chief or an admin (channel_managers_assignable_by).
        user = self.context["request"].user
        if value is None and role_of(user) == Role.CHANNEL_MANAGER:
            raise serializers.ValidationError(
                "Only a channel chief or an admin can leave a partner without a manager."
            )
        return value

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        data["tier"] = instance.tier.slug
        return data


class PartnerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Partners in the caller's scope. Managers create; the partner's manager edits."""

    queryset = Partner.objects.all()
    serializer_class = PartnerSerializer
    permission_classes = [ManagerWritesOthersRead]
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = {"status": ["exact"], "tier__slug": ["exact"], "channel_manager": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return partners_visible_to(self.request.user).order_by("name")

    def get_object(self) -> Partner:
        partner = partner_for_user(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, partner)
        return partner

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("tier_reason", None)
        if role_of(self.request.user) == Role.CHANNEL_MANAGER and not data.get("channel_manager"):
            data["channel_manager"] = self.request.user
        serializer.instance = services.partner_create(created_by=self.request.user, **data)

    def perform_update(self, serializer) -> None:
        partner = serializer.instance
        if not manages_partner(self.request.user, partner):
            raise PermissionDenied("Only this partner's channel manager or a chief can change it.")
        data = dict(serializer.validated_data)
        data.pop("program", None)
        serializer.instance = services.partner_update(
            partner=partner,
            changed_by=self.request.user,
            tier=data.pop("tier", None),
            tier_reason=data.pop("tier_reason", ""),
            **data,
        )


# ---------------------------------------------------------------- partner users


class PartnerUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", max_length=150)
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name", required=False, default="")
    last_name = serializers.CharField(source="user.last_name", required=False, default="")
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    role = serializers.ChoiceField(choices=PartnerRole.choices, default=PartnerRole.REP)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class PartnerUserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=PartnerRole.choices, required=False)
    is_active = serializers.BooleanField(required=False, help_text="false switches the login off.")


class PartnerScopedMixin:
    """For routes under ``/partners/{partner_pk}/``: the partner, or 404 outside scope."""

    def get_partner(self) -> Partner:
        if not hasattr(self, "_partner"):
            self._partner = partner_for_user(self.request.user, self.kwargs["partner_pk"])
        return self._partner


@extend_schema_view(
    partial_update=extend_schema(request=PartnerUserUpdateSerializer),
)
class PartnerUserViewSet(
    PartnerScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The partner's people. ``id`` is the user id (what certifications refer to)."""

    queryset = PartnerUser.objects.all()
    serializer_class = PartnerUserSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_field = "user_id"
    lookup_url_kwarg = "pk"

    def get_queryset(self) -> QuerySet:
        return members_visible_to(self.request.user).filter(partner=self.get_partner())

    def _check_can_manage(self):
        if not can_invite_partner_users(self.request.user, self.get_partner()):
            raise PermissionDenied("Only the partner's admin or its channel manager can do this.")

    def create(self, request, *args, **kwargs) -> Response:
        partner = self.get_partner()
        self._check_can_manage()
        serializer = PartnerUserSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = services.partner_user_create(
            partner=partner,
            username=data["user"]["username"],
            email=data["user"]["email"],
            first_name=data["user"].get("first_name", ""),
            last_name=data["user"].get("last_name", ""),
            password=data["password"],
            role=data["role"],
            created_by=request.user,
        )
        return Response(PartnerUserSerializer(member).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        member = self.get_object()
        self._check_can_manage()
        serializer = PartnerUserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "role" in serializer.validated_data:
            services.partner_user_set_role(
                member=member, role=serializer.validated_data["role"], changed_by=request.user
            )
        if serializer.validated_data.get("is_active") is False:
            services.partner_user_deactivate(member=member, changed_by=request.user)
        member.refresh_from_db()
        return Response(PartnerUserSerializer(member).data)


# ---------------------------------------------------------------- accounts and leads


class AccountSerializer(serializers.ModelSerializer):
    direct_rep = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="E-mail of the vendor's own account owner; makes a direct relationship.",
    )
    owning_partner = ScopedPrimaryKeyRelatedField(
        scope=partners_writable_by,
        queryset=Partner.objects.all(),
        required=False,
        allow_null=True,
        help_text="A channel manager gives an account only to one of their own partners.",
    )

    class Meta:
        model = Account
        fields = ["id", "name", "domain", "direct_rep", "owning_partner", "created_at"]
        read_only_fields = ["created_at"]


class AccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customer accounts. Vendor staff see all; a partner sees the accounts it owns. A
    channel manager changes only the accounts of their own partners and those no partner
    touches yet (``partners.queries.accounts_writable_by``); another's is a 403."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    permission_classes = [ManagerWritesOthersRead]
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = {"owning_partner": ["exact"]}

    def get_queryset(self) -> QuerySet:
        return accounts_visible_to(self.request.user).order_by("name")

    def get_object(self) -> Account:
        account = account_for_user(
            self.request.user,
            self.kwargs["pk"],
            for_write=self.request.method not in permissions.SAFE_METHODS,
        )
        self.check_object_permissions(self.request, account)
        return account

    def perform_create(self, serializer) -> None:
        serializer.instance = services.account_create(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.account_update(
            account=serializer.instance, **serializer.validated_data
        )


class LeadSerializer(serializers.ModelSerializer):
    source = serializers.ChoiceField(choices=LeadSource.choices, default=LeadSource.INBOUND)
    created_at = serializers.DateTimeField(required=False)
    partner = ScopedPrimaryKeyRelatedField(
        scope=partners_writable_by,
        queryset=Partner.objects.all(),
        required=False,
        allow_null=True,
        help_text="The partner the lead is passed to; a channel manager passes leads only "
        "to their own partners.",
    )

    country = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2,
        help_text="ISO 3166 country code of the customer, e.g. DE.",
    )
    specialty = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="What the customer needs: " + ", ".join(Specialty.values) + ".",
    )
    language = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10,
        help_text="ISO 639 language code the customer speaks, e.g. de.",
    )
    route = serializers.BooleanField(
        required=False,
        default=False,
        write_only=True,
        help_text="Offer the lead at once by the routing rules (RULEBOOK §11); ignored when "
        "a `partner` is given. The answer's `status` says whether it was offered.",
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "company_name",
            "domain",
            "source",
            "created_at",
            "account",
            "partner",
            "country",
            "region",
            "specialty",
            "language",
            "route",
            "status",
        ]
        read_only_fields = ["account", "status"]

    def validate(self, attrs: dict) -> dict:
        problems = services.lead_routing_problems(
            **{
                field: attrs.get(field) or ""
                for field in ("country", "region", "specialty", "language")
            }
        )
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class AssignedLeadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = [
            "id",
            "company_name",
            "domain",
            "source",
            "created_at",
            "account",
            "partner",
            "country",
            "region",
            "specialty",
            "language",
            "status",
            "offer_expires_at",
            "accepted_at",
            "converted_deal",
            "converted_at",
            "close_reason",
            "close_note",
            "closed_at",
        ]
        read_only_fields = fields


class LeadAnswerSerializer(serializers.ModelSerializer):
    """A partner's answer to an offer: once declined, the lead is no longer the partner's to
    see, so the answer is all it is told."""

    lead = serializers.IntegerField(source="lead_id", read_only=True)

    class Meta:
        model = LeadOffer
        fields = ["lead", "answer", "answered_at", "decline_reason", "decline_note"]
        read_only_fields = fields


class _LeadReasonSerializer(serializers.Serializer):
    # A reason from a list and, for `other`, words: each subclass gives its ``reason``
    # field and the service's ``problems`` check.

    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=lead_services.NOTE_MAX,
        help_text="Needed when the reason is `other`.",
    )
    problems = None

    def validate(self, attrs: dict) -> dict:
        problems = type(self).problems(attrs["reason"], attrs.get("note", ""))
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class LeadDeclineSerializer(_LeadReasonSerializer):
    """Why the partner declines an offered lead, and its words when the reason is `other`."""

    reason = serializers.ChoiceField(choices=DeclineReason.choices)
    problems = staticmethod(lead_services.decline_problems)


class LeadCloseSerializer(_LeadReasonSerializer):
    """Why the partner closes an accepted lead, and its words when the reason is `other`."""

    reason = serializers.ChoiceField(choices=LeadCloseReason.choices)
    problems = staticmethod(lead_services.close_problems)


class LeadViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """CRM leads. Vendor staff see all; a partner sees the leads passed to it."""

    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    permission_classes = [ManagerWritesOthersRead]

    def get_queryset(self) -> QuerySet:
        return leads_visible_to(self.request.user)

    def get_object(self) -> Lead:
        lead = lead_for_user(
            self.request.user,
            self.kwargs["pk"],
            for_write=self.request.method not in permissions.SAFE_METHODS,
        )
        self.check_object_permissions(self.request, lead)
        return lead

    def perform_create(self, serializer) -> None:
        serializer.instance = services.lead_create(**serializer.validated_data)

    @extend_schema(
        summary="Leads assigned to the partner",
        description="The leads passed to the caller's partner (a manager: to the partners "
        "they see): offered and awaiting an answer until `offer_expires_at`, or accepted "
        "(RULEBOOK §11). Filter with `?status=offered` or `?status=accepted`.",
        parameters=[
            OpenApiParameter(
                "status",
                enum=[LeadStatus.OFFERED, LeadStatus.ACCEPTED],
                required=False,
                description="Only the offered, or only the accepted, leads.",
            )
        ],
        responses={200: AssignedLeadSerializer(many=True), 400: ErrorSerializer},
    )
    @action(
        detail=False,
        methods=["get"],
        permission_classes=[IsAuthenticated],
        filter_backends=[],
    )
    def assigned(self, request) -> Response:
        wanted = request.query_params.get("status", "")
        statuses = [LeadStatus.OFFERED, LeadStatus.ACCEPTED]
        if wanted:
            if wanted not in statuses:
                return Response(
                    {"detail": "status is offered or accepted.", "code": "invalid"},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            statuses = [wanted]
        leads = leads_held_visible_to(request.user).filter(status__in=statuses)
        page = self.paginate_queryset(leads)
        return self.get_paginated_response(AssignedLeadSerializer(page, many=True).data)

    def _answer(self, request, pk, run) -> Response:
        if role_of(request.user) != Role.PARTNER:
            raise PermissionDenied("Only the partner holding the lead answers or closes it.")
        lead = lead_for_user(request.user, pk)  # another partner's lead is a 404
        partner = partner_for_user(request.user, partner_id_of(request.user))
        try:
            return Response(run(lead, partner))
        except lead_services.LeadAnswerRefused as exc:
            return Response(
                {"detail": " ".join(exc.messages), "code": exc.code or "refused"},
                status=status.HTTP_409_CONFLICT,
            )

    @extend_schema(
        summary="Accept a lead offered to the partner",
        description="Within the answer window (RULEBOOK §11). The lead becomes the partner's: "
        "its registrations of the customer are not refused as `existing_lead`. 409 when the "
        "lead is no longer offered to the partner or the window has passed.",
        request=None,
        responses={
            200: AssignedLeadSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def accept(self, request, pk=None) -> Response:
        return self._answer(
            request,
            pk,
            lambda lead, partner: (
                AssignedLeadSerializer(
                    lead_services.lead_accept(lead=lead, partner=partner, by=request.user)
                ).data
            ),
        )

    @extend_schema(
        summary="Decline a lead offered to the partner",
        description="With a reason from the list (`other` needs a `note`). The lead is "
        "offered to the next match, or returns to the channel manager (RULEBOOK §11).",
        request=LeadDeclineSerializer,
        responses={
            200: LeadAnswerSerializer,
            400: BAD_REQUEST,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def decline(self, request, pk=None) -> Response:
        body = LeadDeclineSerializer(data=request.data)

        def run(lead, partner):
            body.is_valid(raise_exception=True)
            lead_services.lead_decline(
                lead=lead, partner=partner, by=request.user, **body.validated_data
            )
            answered = LeadOffer.objects.filter(
                lead=lead, partner=partner, answer=LeadOffer.Answer.DECLINED
            ).latest("answered_at", "pk")
            return LeadAnswerSerializer(answered).data

        return self._answer(request, pk, run)

    @extend_schema(
        summary="Close a lead the partner accepted",
        description="The partner will not register it: with a reason from the list (`other` "
        "needs a `note`). The lead stays the partner's, closed, and no longer takes a place "
        "of its tier's lead capacity (RULEBOOK §11). 409 unless the partner holds the lead "
        "as accepted; another partner's lead is a 404.",
        request=LeadCloseSerializer,
        responses={
            200: AssignedLeadSerializer,
            400: BAD_REQUEST,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def close(self, request, pk=None) -> Response:
        body = LeadCloseSerializer(data=request.data)

        def run(lead, partner):
            body.is_valid(raise_exception=True)
            closed = lead_services.lead_close(
                lead=lead, partner=partner, by=request.user, **body.validated_data
            )
            return AssignedLeadSerializer(closed).data

        return self._answer(request, pk, run)
