"""REST API for certifications: ``/partners/{id}/certifications/`` (API.md)."""

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from partners.api import PartnerScopedMixin
from partners.models import User
from partners.permissions import manages_partner

from . import services
from .models import Certification, CertificationType, EventAttendance, TrainingCompletion
from .queries import certifications_visible_to


class CertificationSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    certification = serializers.SlugRelatedField(
        source="certification_type",
        slug_field="slug",
        queryset=CertificationType.objects.filter(is_active=True),
        help_text="Certification type slug; the default program defines `demo` and `solo-demo`.",
    )
    certification_name = serializers.CharField(source="certification_type.name", read_only=True)
    expires_on = serializers.DateField(
        required=False, help_text="Defaults to the type's validity from issued_on."
    )
    current = serializers.SerializerMethodField()

    class Meta:
        model = Certification
        fields = [
            "id",
            "partner",
            "user",
            "certification",
            "certification_name",
            "issued_on",
            "expires_on",
            "current",
        ]
        read_only_fields = ["partner"]

    def get_current(self, obj) -> bool:
        today = timezone.localdate()
        return obj.issued_on <= today < obj.expires_on


class CertificationViewSet(
    PartnerScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Certifications held by the partner's people; managers record new ones."""

    queryset = Certification.objects.all()
    serializer_class = CertificationSerializer

    def get_queryset(self) -> QuerySet:
        return certifications_visible_to(self.request.user).filter(partner=self.get_partner())

    def create(self, request, *args, **kwargs) -> Response:
        partner = self.get_partner()
        if not manages_partner(request.user, partner):
            raise PermissionDenied("Only the partner's channel manager or a chief records these.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        certification = services.certification_award(
            partner=partner,
            user=data["user"],
            certification=data["certification_type"],
            issued_on=data["issued_on"],
            expires_on=data.get("expires_on"),
            awarded_by=request.user,
        )
        return Response(self.get_serializer(certification).data, status=status.HTTP_201_CREATED)


class EngagementSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())


class TrainingCompletionSerializer(EngagementSerializer):
    course = serializers.CharField(max_length=200)
    completed_on = serializers.DateField()


class EventAttendanceSerializer(EngagementSerializer):
    event = serializers.CharField(max_length=200)
    attended_on = serializers.DateField()


class _EngagementViewSet(
    PartnerScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    service = None

    def get_queryset(self):
        from partners.queries import scope_to_user

        return scope_to_user(
            self.queryset.model.objects.select_related("user"), self.request.user
        ).filter(partner=self.get_partner())

    def create(self, request, *args, **kwargs):
        partner = self.get_partner()
        if not manages_partner(request.user, partner):
            raise PermissionDenied("Only the partner's channel manager or a chief records these.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = type(self).service(
            partner=partner, recorded_by=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)


class TrainingCompletionViewSet(_EngagementViewSet):
    """Courses the partner's people completed (the engagement input of the scorecard)."""

    queryset = TrainingCompletion.objects.all()
    serializer_class = TrainingCompletionSerializer
    service = staticmethod(services.training_completion_record)


class EventAttendanceViewSet(_EngagementViewSet):
    """Vendor events the partner's people attended (the engagement input of the scorecard)."""

    queryset = EventAttendance.objects.all()
    serializer_class = EventAttendanceSerializer
    service = staticmethod(services.event_attendance_record)
