from django.urls import path

from . import views

urlpatterns = [
    path("onboarding/", views.onboarding, name="portal-onboarding"),
    path("certifications/", views.certifications, name="portal-certifications"),
    path("content/", views.content, name="portal-content"),
    path("content/<int:pk>/open/", views.content_open, name="portal-content-open"),
    path("campaigns/", views.campaigns, name="portal-campaigns"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="portal-campaign"),
    path("campaigns/<int:pk>/leads/", views.campaign_lead, name="portal-campaign-lead"),
]
