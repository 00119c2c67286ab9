from django.urls import path

from . import views

urlpatterns = [
    path("webhooks/", views.webhooks, name="portal-webhooks"),
    path("webhooks/<int:pk>/", views.webhook, name="portal-webhook"),
    path("webhooks/<int:pk>/rotate/", views.webhook_rotate, name="portal-webhook-rotate"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="portal-webhook-delete"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        views.webhook_redeliver,
        name="portal-webhook-redeliver",
    ),
]
