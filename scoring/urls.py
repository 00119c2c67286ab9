from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("portal/home/", views.portal_home, name="portal-home"),
    path("partners/<int:pk>/", views.partner_detail, name="portal-partner"),
    path("portal/scorecards/", views.scorecards, name="portal-scorecards"),
    path("manager/", views.manager_home, name="manager-home"),
    path("executive/", views.executive_home, name="executive-home"),
    path(
        "executive/export/<slug:export>.csv",
        views.executive_home,
        name="executive-export",
    ),
]
