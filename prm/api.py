"""Shared pieces of the REST API: role permissions, a scoped object lookup, the pagination."""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.pagination import LimitOffsetPagination

from .roles import MANAGER_ROLES, VENDOR_ROLES, role_of


class ManagerWritesOthersRead(permissions.BasePermission):
    """Anyone signed in reads (rows are scoped); only managers and above write.

    On a detail route the role is checked against the object, after the scoped lookup,
    so an object outside the caller's scope is a 404 for every method, never a 403.
    """

    message = "Only channel managers, channel chiefs and admins can change this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if view.kwargs.get(getattr(view, "lookup_url_kwarg", None) or "pk") is not None:
            return True
        return role_of(request.user) in MANAGER_ROLES

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return role_of(request.user) in MANAGER_ROLES


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to one of the rows ``scope(user)`` gives the caller; any other id is
    answered as an id that does not exist, so the answer never says whether it does.

    ``queryset`` is still passed, for the schema (it names the model); requests look up
    through ``scope``. Used where a write names another object, e.g. the partner an
    account is given to: a manager may name only a partner of theirs."""

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        return self.scope(self.context["request"].user)


class VendorStaffOnly(permissions.BasePermission):
    message = "Only the vendor's staff can use this."

    def has_permission(self, request, view) -> bool:
        return role_of(request.user) in VENDOR_ROLES


class ErrorSerializer(serializers.Serializer):
    """The API's refusal shape: ``{"detail": "…", "code": "…"}``."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


# API.md: a refusal is {"detail", "code"}; bad input is DRF's field-error shape
# ({"field": ["message", …]}). Both answer 400.
BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Either {"detail": "…", "code": "…"} or field errors: {"field": ["…"]}.',
)


# API.md: a client cannot ask for more than 1,000 rows a page.
MAX_PAGE_SIZE = 1000


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=`` with the page capped at ``MAX_PAGE_SIZE`` rows: a larger (or
    absurd, e.g. 10**30) ``limit`` gives a page of that many; a negative or unreadable
    ``limit`` or ``offset`` falls back to the default."""

    max_limit = MAX_PAGE_SIZE
