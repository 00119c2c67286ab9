"""Shared pieces of the REST API: role permissions, a scoped object lookup, the pagination."""

import base64
import json
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

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


class KeysetPagination(Pagination):
    """Pages by position, not by number: ``?limit=`` rows (capped at ``MAX_PAGE_SIZE``) after
    (or, going back, before) the row a ``cursor`` names, and ``next`` and ``previous``
    links carrying the cursors. The answer is ``{"next", "previous", "results"}``: no
    ``count``, which on a list of millions costs more than the page.

    The view names its order as ``keyset``: a column, descending, then the primary key,
    e.g. ``("-submitted_at", "-pk")``; an index on (column, id) serves every page, the
    thousandth as fast as the first, where ``OFFSET`` reads and drops every row before
    it. A cursor is the last row's (column, id): rows are never repeated or skipped, even
    when many share the column's value or rows are added meanwhile.

    ``?offset=`` still pages as before (``{"count", …}``), for clients written against
    it; a cursor that cannot be read is a 400."""

    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None) -> list | None:
        if self.offset_query_param in request.query_params:
            self.mode = "offset"
            return super().paginate_queryset(queryset, request, view)
        self.mode = "keyset"
        self.request = request
        self.limit = self.get_limit(request)
        column, _ = self.keyset(view)
        field = queryset.model._meta.get_field(column)
        self.column, self.field = column, field
        position = self.decode(request.query_params.get(self.cursor_query_param), field)
        backwards = position is not None and position[2]
        order = (column, "pk") if backwards else (f"-{column}", "-pk")
        if position is not None:
            value, pk, _ = position
            # ``column <= value`` bounds the index range; the rest only drops the rows of
            # the same value already shown.
            if backwards:
                queryset = queryset.filter(**{f"{column}__gte": value}).filter(
                    Q(**{f"{column}__gt": value}) | Q(pk__gt=pk)
                )
            else:
                queryset = queryset.filter(**{f"{column}__lte": value}).filter(
                    Q(**{f"{column}__lt": value}) | Q(pk__lt=pk)
                )
        rows = list(queryset.order_by(*order)[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        if backwards:
            rows.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self.page = rows
        return rows

    @staticmethod
    def keyset(view) -> tuple[str, str]:
        column, pk = view.keyset
        if not (column.startswith("-") and pk == "-pk"):
            raise ValueError("A keyset is a column, descending, then -pk.")
        return column.lstrip("-"), "pk"

    def decode(self, cursor: str | None, field) -> tuple | None:
        if cursor is None:
            return None
        try:
            text = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("utf-8")
            data = json.loads(text)
            value = field.to_python(data["v"])
            if isinstance(value, datetime) and timezone.is_naive(value):
                value = timezone.make_aware(value, UTC)
            pk = int(data["pk"])
            backwards = bool(data.get("b", False))
            if value is None or not (0 < pk < 2**63):
                raise ValueError
        except (ValueError, TypeError, KeyError, UnicodeError, DjangoValidationError) as exc:
            raise ValidationError(
                {self.cursor_query_param: ["Not a cursor of this list."]}
            ) from exc
        return value, pk, backwards

    def encode(self, row, *, backwards: bool) -> str:
        data = {"v": self.field.value_to_string(row), "pk": row.pk}
        if backwards:
            data["b"] = True
        text = json.dumps(data, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")

    def _link(self, row, *, backwards: bool) -> str:
        url = self.request.build_absolute_uri()
        url = remove_query_param(url, self.offset_query_param)
        return replace_query_param(
            url, self.cursor_query_param, self.encode(row, backwards=backwards)
        )

    def get_next_link(self) -> str | None:
        if self.mode == "offset":
            return super().get_next_link()
        if not (self.has_next and self.page):
            return None
        return self._link(self.page[-1], backwards=False)

    def get_previous_link(self) -> str | None:
        if self.mode == "offset":
            return super().get_previous_link()
        if not (self.has_previous and self.page):
            return None
        return self._link(self.page[0], backwards=True)

    def get_paginated_response(self, data) -> Response:
        if self.mode == "offset":
            return super().get_paginated_response(data)
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema) -> dict:
        described = super().get_paginated_response_schema(schema)
        described["required"] = ["results"]
        described["properties"]["count"]["description"] = "Only when paging by ?offset=."
        return described

    def get_schema_operation_parameters(self, view) -> list:
        return super().get_schema_operation_parameters(view) + [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the cursor of a `next` or `previous` link.",
                "schema": {"type": "string"},
            }
        ]

    def get_html_context(self) -> dict:
        if self.mode == "offset":
            return super().get_html_context()
        return {"previous_url": self.get_previous_link(), "next_url": self.get_next_link()}
