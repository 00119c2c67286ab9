"""The identity providers' addresses, ahead of allauth's own (same paths, same names), so
that its views answer behind integrations.views' guards."""

from django.urls import path

from . import views

urlpatterns = [
    path("oidc/<str:provider_id>/login/", views.oidc_login, name="openid_connect_login"),
    path(
        "oidc/<str:provider_id>/login/callback/",
        views.oidc_callback,
        name="openid_connect_callback",
    ),
    path("saml/<str:organization_slug>/login/", views.saml_login, name="saml_login"),
    path("saml/<str:organization_slug>/acs/", views.saml_acs, name="saml_acs"),
    path(
        "saml/<str:organization_slug>/acs/finish/",
        views.saml_finish_acs,
        name="saml_finish_acs",
    ),
    path("saml/<str:organization_slug>/metadata/", views.saml_metadata, name="saml_metadata"),
]
