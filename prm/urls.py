from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from deals.api import ConflictCaseViewSet, DealViewSet
from enablement import views as enablement_views
from enablement.api import CertificationViewSet, EventAttendanceViewSet, TrainingCompletionViewSet
from incentives import urls as incentive_urls
from incentives.api import (
    ContributionViewSet,
    IncentiveClaimViewSet,
    LedgerViewSet,
    MdfClaimViewSet,
    MdfFundViewSet,
    MdfRequestViewSet,
)
from integrations.api import WebhookDeliveryViewSet, WebhookViewSet
from partners import views as partner_views
from partners.api import (
    AccountViewSet,
    LeadViewSet,
    PartnerUserViewSet,
    PartnerViewSet,
    ProgramViewSet,
    TokenView,
)
from prm import health, metrics
from prm.throttles import anonymous_posts_limited
from prm.views import favicon
from scoring.api import (
    DashboardView,
    JointBusinessPlanViewSet,
    QbrViewSet,
    QuarterViewSet,
    RedFlagViewSet,
    ScorecardViewSet,
)

router = DefaultRouter()
router.register("programs", ProgramViewSet, basename="program")
router.register("partners", PartnerViewSet, basename="partner")
router.register(r"partners/(?P<partner_pk>\d+)/users", PartnerUserViewSet, basename="partner-user")
router.register(
    r"partners/(?P<partner_pk>\d+)/certifications", CertificationViewSet, basename="certification"
)
router.register(
    r"partners/(?P<partner_pk>\d+)/trainings", TrainingCompletionViewSet, basename="training"
)
router.register(r"partners/(?P<partner_pk>\d+)/events", EventAttendanceViewSet, basename="event")
router.register("accounts", AccountViewSet, basename="account")
router.register("leads", LeadViewSet, basename="lead")
router.register("deals", DealViewSet, basename="deal")
router.register("conflicts", ConflictCaseViewSet, basename="conflict")
router.register("scorecards", ScorecardViewSet, basename="scorecard")
router.register("red-flags", RedFlagViewSet, basename="red-flag")
router.register("quarters", QuarterViewSet, basename="quarter")
router.register("qbrs", QbrViewSet, basename="qbr")
router.register("business-plans", JointBusinessPlanViewSet, basename="business-plan")
router.register("ledger", LedgerViewSet, basename="ledger")
router.register("incentive-claims", IncentiveClaimViewSet, basename="incentive-claim")
router.register("contributions", ContributionViewSet, basename="contribution")
router.register("mdf/funds", MdfFundViewSet, basename="mdf-fund")
router.register("mdf/requests", MdfRequestViewSet, basename="mdf-request")
router.register("mdf/claims", MdfClaimViewSet, basename="mdf-claim")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")


# The admin's own login form would bypass allauth's failed-login limits: anonymous visitors
# are sent to the portal's sign-in page instead, which counts and locks out (ACCOUNT_RATE_LIMITS).
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "PRM administration"
admin.site.site_title = "PRM admin"
admin.site.index_title = "Channel operations"

urlpatterns = [
    path("", include("scoring.urls")),
    path("portal/", include("partners.urls")),
    path("portal/", include("integrations.urls")),
    path("portal/deals/", include("deals.urls")),
    path("portal/", include("enablement.urls")),
    path("apply/", enablement_views.apply, name="apply"),
    path("directory/", partner_views.directory, name="directory"),
    path("directory/<int:pk>/", partner_views.directory_partner_page, name="directory-partner"),
    path("directory/<int:pk>/logo/", partner_views.directory_logo, name="directory-logo"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include(incentive_urls.portal_urlpatterns)),
    path("portal/", include("incentives.urls")),
    # The password-reset request mails whoever is named: a few an hour from one address,
    # counted in the database (allauth's own limit lives in the cache). Before allauth's
    # URLs, so that this one answers.
    path(
        "auth/password/reset/",
        anonymous_posts_limited(
            "password_reset", counts=lambda response: response.status_code == 302
        )(account_views.password_reset),
        name="account_reset_password",
    ),
    # The identity providers' addresses (single sign-on), guarded (integrations.views).
    path("auth/", include("integrations.sso_urls")),
    path("auth/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("api/v1/dashboard/", DashboardView.as_view(), name="api-dashboard"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz/", health.readyz, name="readyz"),
    # Prometheus' default path, without a slash; a bearer token or a 404 (prm.metrics).
    path("metrics", metrics.metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
]

handler400 = "prm.errors.bad_request"
handler403 = "prm.errors.permission_denied"
handler404 = "prm.errors.page_not_found"
handler500 = "prm.errors.server_error"
