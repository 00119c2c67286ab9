from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("portal/home/", views.portal_home, name="portal-home"),
    path("partners/<int:pk>/", views.partner_detail, name="portal-partner"),
    path("portal/scorecards/", views.scorecards, name="portal-scorecards"),
    path(
        "portal/scorecards/<int:pk>/dispute/",
        views.scorecard_dispute,
        name="portal-scorecard-dispute",
    ),
    path("manager/", views.manager_home, name="manager-home"),
    path("manager/partners/<int:pk>/", views.manager_partner, name="manager-partner"),
    path(
        "manager/disputes/<int:pk>/answer/",
        views.manager_dispute_answer,
        name="manager-dispute-answer",
    ),
    path("executive/", views.executive_home, name="executive-home"),
    path(
        "executive/export/<slug:export>.csv",
        views.executive_home,
        name="executive-export",
    ),
    path("portal/qbrs/", views.qbr_list, name="portal-qbrs"),
    path("portal/qbrs/<int:pk>/", views.qbr_detail, name="portal-qbr"),
    path("portal/plan/", views.business_plan, name="portal-business-plan"),
    path("qbrs/<int:pk>/print/", views.qbr_print, name="qbr-print"),
    path("qbrs/<int:pk>/pdf/", views.qbr_pdf, name="qbr-pdf"),
]
