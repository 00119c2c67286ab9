"""Two-factor sign-in: required of staff, optional for partner people, driven here with real
codes computed from the authenticator's secret (tests.factories.totp_code)."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from partners.models import ApiToken
from prm.roles import Role
from tests.factories import STAFF_TOTP_SECRET, StaffFactory, mfa_enrol, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"
TOKEN_URL = "/api/v1/auth/token/"


def next_code(secret: str = STAFF_TOTP_SECRET) -> str:
    """The code of the next 30-second step (accepted: one step of drift is allowed), for a
    second use within one test: a code once accepted is not accepted again."""
    return totp_code(secret, at=time.time() + 30)


def sign_in_with_password(client, username: str):
    return client.post(reverse("account_login"), {"login": username, "password": PASSWORD})


# ---------------------------------------------------------------- staff must set it up


@pytest.mark.parametrize(
    "role", [Role.CHANNEL_MANAGER, Role.CHANNEL_CHIEF, Role.EXECUTIVE, Role.FINANCE, Role.ADMIN]
)
def test_staff_without_two_factor_are_sent_to_set_it_up(client, api, role):
    user = StaffFactory(username="newstaff", role=role, mfa=False)
    client.force_login(user)
    for path in ("/", "/manager/", "/admin/", "/portal/tokens/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_activate_totp"), path
    page = client.get(reverse("mfa_activate_totp"), follow=True)
    assert page.status_code == 200
    response = client.get("/api/v1/partners/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_setup_required"
    # Signing out stays possible.
    assert client.post(reverse("account_logout")).status_code == 302


def test_partner_people_are_not_required_to(client, a_rep):
    client.force_login(a_rep)
    assert client.get(reverse("portal-home")).status_code == 200


def test_a_staff_member_sets_up_an_authenticator_app_and_gets_recovery_codes(client):
    StaffFactory(username="newmanager", mfa=False)
    assert sign_in_with_password(client, "newmanager").status_code == 302
    # Signed in, but sent to set it up; changing sign-in methods asks for the password again.
    assert client.get("/manager/")["Location"] == reverse("mfa_activate_totp")
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked["Location"].startswith(reverse("account_reauthenticate"))
    confirmed = client.post(asked["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="card' in html and "data:image/svg+xml" in html  # the login page's card
    secret = page.context["form"].secret
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200 and not Authenticator.objects.exists()
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    types = set(Authenticator.objects.values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    assert client.get("/manager/").status_code == 200
    codes = client.get(reverse("mfa_view_recovery_codes"))
    assert codes.status_code == 200
    assert len(re.findall(r"\b[0-9a-f]{8}\b", codes.content.decode())) >= 10


# ---------------------------------------------------------------- signing in with a code


def test_staff_sign_in_asks_for_the_code(client, manager):
    response = sign_in_with_password(client, manager.username)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get("/manager/").status_code == 302  # not signed in yet
    page = client.get(reverse("mfa_authenticate"))
    assert page.status_code == 200 and 'class="card' in page.content.decode()
    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200
    assert "Incorrect code" in wrong.content.decode()
    right = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert right.status_code == 302
    assert client.get("/manager/").status_code == 200


def test_a_recovery_code_signs_in_once(client, a_rep):
    codes = mfa_enrol(a_rep)
    sign_in_with_password(client, a_rep.username)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert client.get(reverse("portal-home")).status_code == 200
    client.post(reverse("account_logout"))
    sign_in_with_password(client, a_rep.username)
    again = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert again.status_code == 200  # used up


def test_guessing_codes_is_locked_out_like_guessing_passwords(client, manager):
    sign_in_with_password(client, manager.username)
    answers = [
        client.post(reverse("mfa_authenticate"), {"code": f"{i:06d}"}).status_code for i in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]
    locked = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert locked.status_code == 429
    assert client.get("/manager/").status_code == 302
    # The password door is shut for that username too (from a fresh browser: this one is
    # held at the code step).
    assert sign_in_with_password(Client(), manager.username).status_code == 429


# ---------------------------------------------------------------- tokens for staff


def test_a_staff_token_needs_the_code(api, manager):
    plain = api().post(TOKEN_URL, {"username": manager.username, "password": PASSWORD})
    assert plain.status_code == 400
    assert plain.json()["code"] == "mfa_required"
    assert "two-factor code" in plain.json()["detail"]
    wrong = api().post(
        TOKEN_URL, {"username": manager.username, "password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "The two-factor code is not correct.", "code": "mfa_invalid"}
    code = totp_code()
    right = api().post(
        TOKEN_URL, {"username": manager.username, "password": PASSWORD, "code": code}
    )
    assert right.status_code == 200, right.content
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {right.json()['token']}")
    assert client.get("/api/v1/partners/").status_code == 200
    # The code just used is not accepted a second time (the same code: asking for the
    # current one again would give a fresh one if the 30-second step had just turned).
    replay = api().post(
        TOKEN_URL, {"username": manager.username, "password": PASSWORD, "code": code}
    )
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_invalid"


def test_a_staff_member_without_two_factor_gets_no_token(api):
    StaffFactory(username="plainchief", role=Role.CHANNEL_CHIEF, mfa=False)
    response = api().post(TOKEN_URL, {"username": "plainchief", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["code"] == "mfa_setup_required"
    assert not ApiToken.objects.exists()


def test_a_wrong_password_says_nothing_about_the_code(api, manager):
    response = api().post(
        TOKEN_URL, {"username": manager.username, "password": "wrong", "code": totp_code()}
    )
    assert response.json()["code"] == "invalid_credentials"


def test_a_partner_person_who_turned_it_on_needs_the_code_too(api, a_rep):
    codes = mfa_enrol(a_rep, secret="KRUGS4ZANFZSAYJAONSWG4TFOQ2CAMJS")
    plain = api().post(TOKEN_URL, {"username": a_rep.username, "password": PASSWORD})
    assert plain.json()["code"] == "mfa_required"
    by_recovery = api().post(
        TOKEN_URL, {"username": a_rep.username, "password": PASSWORD, "code": codes[1]}
    )
    assert by_recovery.status_code == 200


def test_guessing_codes_for_a_token_is_locked_out(api, manager):
    answers = [
        api()
        .post(TOKEN_URL, {"username": manager.username, "password": PASSWORD, "code": f"{i:06d}"})
        .status_code
        for i in range(5)
    ]
    assert answers == [400, 400, 400, 400, 429]
    right = api().post(
        TOKEN_URL, {"username": manager.username, "password": PASSWORD, "code": next_code()}
    )
    assert right.status_code == 429 and right.json()["code"] == "throttled"
