from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import views as auth_views
from django.urls import include, path


class LoginView(auth_views.LoginView):
    """The IdP's sign-in form, filled in with the ``login_hint`` the client sent."""

    def get_initial(self):
        next_url = self.request.GET.get("next", "")
        hint = parse_qs(urlsplit(next_url).query).get("login_hint", [""])[0]
        return {"username": hint}


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
