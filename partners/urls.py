from django.urls import path

from . import views

urlpatterns = [
    path("team/", views.team, name="portal-team"),
    path("tokens/", views.tokens, name="portal-tokens"),
    path("notifications/", views.notifications, name="portal-notifications"),
    path("notifications/read/", views.notifications_read, name="portal-notifications-read"),
    path(
        "notifications/settings/",
        views.notification_settings,
        name="portal-notification-settings",
    ),
]
