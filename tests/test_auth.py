"""Portal sign-in, sign-out, password reset and the API token."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_sign_in_with_username_or_email_then_sign_out(client, a_rep):
    for login in (a_rep.username, a_rep.email):
        response = client.post(
            reverse("account_login"), {"login": login, "password": "Correct-Horse-9"}
        )
        assert response.status_code == 302, response.content.decode()[:500]
        assert client.get(reverse("portal-home")).status_code == 200
        assert client.post(reverse("account_logout")).status_code == 302
        assert client.get(reverse("portal-home")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, a_rep):
    response = client.post(reverse("account_login"), {"login": a_rep.username, "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_repeated_failures_are_rate_limited(client, a_rep):
    pages = [
        client.post(
            reverse("account_login"), {"login": a_rep.username, "password": f"wrong{i}"}
        ).content.decode()
        for i in range(6)
    ]
    assert "Too many failed login attempts" not in pages[0]
    assert "Too many failed login attempts" in pages[-1]
    # Locked out even with the right password until the window passes.
    right = client.post(
        reverse("account_login"), {"login": a_rep.username, "password": "Correct-Horse-9"}
    )
    assert right.status_code == 200


def test_open_sign_up_is_closed(client):
    response = client.get(reverse("account_signup"))
    assert "closed" in response.content.decode().lower()


def test_forgotten_password_mails_a_reset_link(client, a_rep, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": a_rep.email})
    assert response.status_code == 302
    assert mailoutbox[0].to == [a_rep.email]
    assert "/auth/password/reset/key/" in mailoutbox[0].body


def test_token_endpoint(api, a_rep):
    ok = api().post(
        "/api/v1/auth/token/", {"username": a_rep.username, "password": "Correct-Horse-9"}
    )
    assert ok.status_code == 200
    token = ok.json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/partners/").status_code == 200

    bad = api().post("/api/v1/auth/token/", {"username": a_rep.username, "password": "x"})
    assert bad.status_code == 400
    assert bad.json()


def test_inactive_user_gets_no_token(api, a_rep):
    a_rep.is_active = False
    a_rep.save()
    response = api().post(
        "/api/v1/auth/token/", {"username": a_rep.username, "password": "Correct-Horse-9"}
    )
    assert response.status_code == 400
