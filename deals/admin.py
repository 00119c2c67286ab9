from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from partners.admin import ScopedAdminMixin

from .models import Deal, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "strategic", "is_active"]
    list_filter = ["strategic", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Deal)
class DealAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Registrations, read-only here until the approval workflow lands in this admin."""

    list_display = [
        "customer_name",
        "partner",
        "status",
        "amount",
        "submitted_at",
        "expires_on",
        "closed_on",
        "partner_credit",
        "direct_conflict",
    ]
    list_filter = ["status", "deal_type", "compensation_model", "direct_conflict"]
    list_select_related = ["partner"]
    search_fields = ["customer_name", "customer_domain", "partner__name"]
    date_hierarchy = "submitted_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
