from django.urls import path

from . import views

urlpatterns = [
    path("team/", views.team, name="portal-team"),
    path("tokens/", views.tokens, name="portal-tokens"),
    path("directory/", views.directory_profile, name="portal-directory-profile"),
]
