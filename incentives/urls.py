from django.urls import path

from . import views

app_name = "incentives"

urlpatterns = [
    path("mdf/proofs/<int:pk>/", views.proof_download, name="proof"),
]

portal_urlpatterns = [
    path("earnings/", views.earnings, name="portal-earnings"),
    path("claims/", views.claim_list, name="portal-claims"),
    path("claims/new/", views.claim_new, name="portal-claim-new"),
    path("claims/<int:pk>/", views.claim_detail, name="portal-claim"),
    path("claims/<int:pk>/dispute/", views.claim_dispute, name="portal-claim-dispute"),
    path("mdf/", views.mdf_home, name="portal-mdf"),
    path("mdf/requests/new/", views.mdf_request_new, name="portal-mdf-request-new"),
    path("mdf/requests/<int:pk>/", views.mdf_request_detail, name="portal-mdf-request"),
    path("mdf/requests/<int:pk>/claim/", views.mdf_claim_new, name="portal-mdf-claim"),
    path("mdf/requests/<int:pk>/cancel/", views.mdf_request_cancel, name="portal-mdf-cancel"),
    path("contributions/", views.contributions, name="portal-contributions"),
]
