"""``Authorization: Token <token>`` for the API: knox's check of a hashed, expiring token."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication

from prm import logs

from .models import ApiToken

# A token's "last used" is written when it is older than this, not on every request.
LAST_USED_GRANULARITY = timedelta(hours=1)


class ApiTokenAuthentication(TokenAuthentication):
    """knox's authentication, less a query and plus a date.

    knox deletes a user's expired tokens on every authenticated request, reading all of the
    user's tokens each time. Here only the presented token is judged (an expired one is
    refused and deleted, as knox does); the others are swept when the user next asks for a
    token (``partners.services.api_token_issue``)."""

    def authenticate(self, request) -> tuple | None:
        authenticated = super().authenticate(request)
        if authenticated is not None:
            # Known only now, inside the view: the request's log lines name the user from here.
            logs.user_set(authenticated[0])
        return authenticated

    def _cleanup_token(self, auth_token: ApiToken) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def validate_user(self, auth_token: ApiToken) -> tuple:
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            ApiToken.objects.filter(digest=token.digest).update(last_used_at=now)
            token.last_used_at = now
        return user, token


class ApiTokenScheme(KnoxTokenScheme):
    """The schema's security scheme: ``Authorization: Token <token>``, under the name it
    has always had."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"
