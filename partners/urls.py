from django.urls import path

from . import views

urlpatterns = [
    path("team/", views.team, name="portal-team"),
    path("tokens/", views.tokens, name="portal-tokens"),
    path("directory/", views.directory_profile, name="portal-directory-profile"),
    path("leads/", views.leads_inbox, name="portal-leads"),
    path("leads/<int:pk>/accept/", views.lead_accept, name="portal-lead-accept"),
    path("leads/<int:pk>/decline/", views.lead_decline, name="portal-lead-decline"),
    path("leads/<int:pk>/close/", views.lead_close, name="portal-lead-close"),
    path("notifications/", views.notifications, name="portal-notifications"),
    path("notifications/read/", views.notifications_read, name="portal-notifications-read"),
    path(
        "notifications/settings/",
        views.notification_settings,
        name="portal-notification-settings",
    ),
]
