from django.urls import path

from . import views

urlpatterns = [
    path("", views.deal_list, name="portal-deals"),
    path("new/", views.deal_new, name="portal-deal-new"),
    path("check/", views.deal_check, name="portal-deal-check"),
    path("<int:pk>/", views.deal_detail, name="portal-deal"),
    path("<int:pk>/extend/", views.deal_extend, name="portal-deal-extend"),
    path("<int:pk>/review/", views.deal_review, name="portal-deal-review"),
]
