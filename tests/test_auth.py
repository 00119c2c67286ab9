"""Portal sign-in, sign-out, password reset, and API tokens: issued, hashed, expiring,
revoked one by one and all together when the password changes or the login is switched off."""

import re
from datetime import timedelta

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from partners import services
from partners.models import ApiToken
from tests.factories import StaffFactory, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"
NEW_PASSWORD = "Another-Horse-42"
TOKEN_URL = "/api/v1/auth/token/"


def alert_of(response) -> str:
    """The sign-in form's error, as the person reads it."""
    found = re.search(
        r'<div class="alert alert-danger"[^>]*>(.*?)</div>', response.content.decode()
    )
    return found.group(1).strip() if found else ""


def get_token(api, username: str, password: str = PASSWORD, **extra) -> str:
    response = api().post(TOKEN_URL, {"username": username, "password": password, **extra})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def with_token(api, token: str):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# ---------------------------------------------------------------- portal sign-in


def test_sign_in_with_username_or_email_then_sign_out(client, a_rep):
    for login in (a_rep.username, a_rep.email):
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert response.status_code == 302, response.content.decode()[:500]
        assert client.get(reverse("portal-home")).status_code == 200
        assert client.post(reverse("account_logout")).status_code == 302
        assert client.get(reverse("portal-home")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, a_rep):
    response = client.post(reverse("account_login"), {"login": a_rep.username, "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in alert_of(response)


def test_an_inactive_login_is_answered_exactly_as_a_wrong_password(client, a_rep, a_admin):
    a_rep.is_active = False
    a_rep.save()
    inactive = client.post(reverse("account_login"), {"login": "andy", "password": PASSWORD})
    wrong = client.post(reverse("account_login"), {"login": "alice", "password": "not-hers"})
    assert inactive.status_code == wrong.status_code == 200
    assert alert_of(inactive) == alert_of(wrong).replace("alice", "andy")
    assert "not correct" in alert_of(inactive)
    assert "inactive" not in inactive.content.decode().lower()
    assert client.get(reverse("portal-home")).status_code == 302
    # The inactive-account page is never where a sign-in leads.
    followed = client.post(
        reverse("account_login"), {"login": "andy", "password": PASSWORD}, follow=True
    )
    assert reverse("account_inactive") not in [url for url, _ in followed.redirect_chain]


def test_repeated_failures_lock_the_username_out_with_429(client, a_rep):
    for i in range(4):
        page = client.post(
            reverse("account_login"), {"login": a_rep.username, "password": f"wrong{i}"}
        )
        assert page.status_code == 200 and "Too many" not in page.content.decode()
    fifth = client.post(reverse("account_login"), {"login": "ANDY", "password": "wrong4"})
    assert fifth.status_code == 429
    assert int(fifth["Retry-After"]) == 15 * 60
    assert "Too many failed sign-in attempts" in fifth.content.decode()
    # Locked out even with the right password, and under the e-mail address too.
    for login in (a_rep.username, a_rep.email):
        right = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert right.status_code == 429
    assert client.get(reverse("portal-home")).status_code == 302
    # Once the cool-off has passed with no further attempt, the right password works.
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = client.post(
            reverse("account_login"), {"login": a_rep.username, "password": PASSWORD}
        )
        assert response.status_code == 302


def test_an_address_that_guesses_many_usernames_is_locked_out(client, a_rep, a_admin):
    for i in range(20):
        client.post(
            reverse("account_login"),
            {"login": f"nobody{i}", "password": "guess"},
            REMOTE_ADDR="192.0.2.7",
        )
    locked = client.post(
        reverse("account_login"), {"login": "alice", "password": PASSWORD}, REMOTE_ADDR="192.0.2.7"
    )
    assert locked.status_code == 429
    elsewhere = client.post(
        reverse("account_login"), {"login": "alice", "password": PASSWORD}, REMOTE_ADDR="192.0.2.8"
    )
    assert elsewhere.status_code == 302


def test_open_sign_up_is_closed(client):
    response = client.get(reverse("account_signup"))
    assert "closed" in response.content.decode().lower()


def test_forgotten_password_mails_a_reset_link(
    client, a_rep, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": a_rep.email})
    assert response.status_code == 302
    assert not mailoutbox  # queued for the worker, not sent in the request
    assert queued_mail() == 1
    assert mailoutbox[0].to == [a_rep.email]
    assert "/auth/password/reset/key/" in mailoutbox[0].body


# ---------------------------------------------------------------- API tokens


def test_token_endpoint_issues_an_expiring_token_per_request(api, a_rep):
    before = timezone.now()
    response = api().post(TOKEN_URL, {"username": a_rep.username, "password": PASSWORD})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=6, hours=23) < expires - before <= timedelta(days=7, minutes=1)
    assert with_token(api, body["token"]).get("/api/v1/partners/").status_code == 200
    # Signing in again gives a new token; the first keeps working (another device).
    second = get_token(api, a_rep.username)
    assert second != body["token"]
    assert with_token(api, body["token"]).get("/api/v1/partners/").status_code == 200
    assert ApiToken.objects.filter(user=a_rep).count() == 2


def test_a_token_is_stored_only_as_a_digest(api, a_rep):
    token = get_token(api, a_rep.username)
    row = ApiToken.objects.get(user=a_rep)
    stored = [str(getattr(row, field.attname)) for field in ApiToken._meta.fields]
    assert not [value for value in stored if token in value]
    assert row.digest != token and len(row.digest) == 128
    assert token.startswith(row.token_key)  # the first characters only, to find the row


def test_a_token_stops_working_when_it_expires(api, a_rep):
    token = get_token(api, a_rep.username)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = with_token(api, token).get("/api/v1/partners/")
    assert response.status_code == 401
    assert not ApiToken.objects.filter(user=a_rep).exists()  # swept on the refusal


def test_delete_revokes_the_token_it_is_called_with(api, a_rep):
    first, second = get_token(api, a_rep.username), get_token(api, a_rep.username)
    assert with_token(api, first).delete(TOKEN_URL).status_code == 204
    assert with_token(api, first).get("/api/v1/partners/").status_code == 401
    assert with_token(api, second).get("/api/v1/partners/").status_code == 200
    # Signed in by session, there is no token to revoke.
    response = api(a_rep).delete(TOKEN_URL)
    assert response.status_code == 400 and response.json()["code"] == "no_token"


def test_a_named_client_replaces_its_earlier_token(api, a_rep):
    old = get_token(api, a_rep.username, client="CRM sync")
    other = get_token(api, a_rep.username, client="laptop")
    new = get_token(api, a_rep.username, client="CRM sync")
    assert with_token(api, old).get("/api/v1/partners/").status_code == 401
    assert with_token(api, new).get("/api/v1/partners/").status_code == 200
    assert with_token(api, other).get("/api/v1/partners/").status_code == 200
    assert sorted(ApiToken.objects.values_list("client", flat=True)) == ["CRM sync", "laptop"]


def test_a_user_holds_a_bounded_number_of_tokens(api, a_rep, settings):
    settings.API_TOKENS_PER_USER = 3
    tokens = [get_token(api, a_rep.username) for _ in range(4)]
    assert ApiToken.objects.filter(user=a_rep).count() == 3
    assert with_token(api, tokens[0]).get("/api/v1/partners/").status_code == 401
    assert with_token(api, tokens[-1]).get("/api/v1/partners/").status_code == 200


def test_last_use_is_recorded_at_most_hourly(api, a_rep):
    token = get_token(api, a_rep.username)
    with_token(api, token).get("/api/v1/programs/")
    used = ApiToken.objects.get(user=a_rep).last_used_at
    assert used is not None
    with_token(api, token).get("/api/v1/programs/")
    assert ApiToken.objects.get(user=a_rep).last_used_at == used


def test_a_wrong_password_gets_no_token(api, a_rep):
    bad = api().post(TOKEN_URL, {"username": a_rep.username, "password": "x"})
    assert bad.status_code == 400
    assert bad.json() == {
        "detail": "Unable to sign in with the username and password given.",
        "code": "invalid_credentials",
    }


def test_an_inactive_user_gets_no_token_and_the_same_answer(api, a_rep, a_admin):
    a_rep.is_active = False
    a_rep.save()
    inactive = api().post(TOKEN_URL, {"username": a_rep.username, "password": PASSWORD})
    wrong = api().post(TOKEN_URL, {"username": a_admin.username, "password": "x"})
    assert inactive.status_code == wrong.status_code == 400
    assert inactive.json() == wrong.json()


def test_guessing_a_password_for_a_token_is_locked_out(api, client, a_rep):
    """The attack reported: wrong passwords in a row, then the right one."""
    answers = [
        api().post(TOKEN_URL, {"username": a_rep.username, "password": f"guess{i}"})
        for i in range(30)
    ]
    assert [a.status_code for a in answers[:4]] == [400] * 4
    assert {a.status_code for a in answers[4:]} == {429}
    right = api().post(TOKEN_URL, {"username": a_rep.username, "password": PASSWORD})
    assert right.status_code == 429
    assert right.json() == {
        "detail": "Too many failed sign-in attempts. Try again later.",
        "code": "throttled",
    }
    assert int(right["Retry-After"]) == 15 * 60
    assert not ApiToken.objects.exists()
    # One count for both doors: the portal refuses the same username.
    portal = client.post(reverse("account_login"), {"login": a_rep.username, "password": PASSWORD})
    assert portal.status_code == 429


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "prm.cache.ResilientRedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_the_lockout_holds_while_the_cache_is_unreachable(api, client, a_rep, settings):
    settings.CACHES = UNREACHABLE_REDIS
    for i in range(5):
        api().post(TOKEN_URL, {"username": a_rep.username, "password": f"guess{i}"})
    assert api().post(TOKEN_URL, {"username": "andy", "password": PASSWORD}).status_code == 429
    page = client.post(reverse("account_login"), {"login": "andy", "password": PASSWORD})
    assert page.status_code == 429


# ---------------------------------------------------------------- tokens end with the password


def test_changing_the_password_ends_every_token(api, client, a_rep):
    tokens = [get_token(api, a_rep.username) for _ in range(2)]
    client.force_login(a_rep)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:800]
    for token in tokens:
        assert with_token(api, token).get("/api/v1/partners/").status_code == 401
    assert get_token(api, a_rep.username, NEW_PASSWORD)


def test_resetting_the_password_ends_every_token(
    api, client, a_rep, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    token = get_token(api, a_rep.username)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": a_rep.email})
    queued_mail()
    link = re.search(r"https?://[^/\s]+(/auth/password/reset/key/\S+)", mailoutbox[0].body)
    form_page = client.get(link.group(1), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:800]
    assert with_token(api, token).get("/api/v1/partners/").status_code == 401


def test_the_admin_changing_a_password_ends_every_token(api, client, a_rep, vendor_admin):
    token = get_token(api, a_rep.username)
    client.force_login(vendor_admin)
    response = client.post(
        f"/admin/partners/user/{a_rep.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:800]
    assert with_token(api, token).get("/api/v1/partners/").status_code == 401


def test_deactivating_a_partner_person_ends_every_token(api, a_rep, a_admin, partner_a):
    token = get_token(api, a_rep.username)
    response = api(a_admin).patch(
        f"/api/v1/partners/{partner_a.pk}/users/{a_rep.pk}/", {"is_active": False}
    )
    assert response.status_code == 200, response.content
    assert not ApiToken.objects.filter(user=a_rep).exists()
    assert with_token(api, token).get("/api/v1/partners/").status_code == 401


def test_deactivating_a_login_in_the_admin_ends_every_token(api, a_rep, vendor_admin):
    token = get_token(api, a_rep.username)
    model_admin = admin.site._registry[type(a_rep)]
    request = RequestFactory().post("/admin/")
    request.user = vendor_admin
    form = model_admin.get_form(request, a_rep, change=True)(
        instance=a_rep, data={**admin_user_data(a_rep), "is_active": ""}
    )
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    a_rep.refresh_from_db()
    assert not a_rep.is_active
    assert with_token(api, token).get("/api/v1/partners/").status_code == 401


def admin_user_data(user) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "is_active": "on",
        "date_joined_0": "2026-01-05",
        "date_joined_1": "09:00:00",
    }


# ---------------------------------------------------------------- seeing and revoking one's tokens


def test_the_portal_lists_only_ones_own_tokens_and_revokes_them(api, client, a_rep, a_admin):
    mine = get_token(api, a_rep.username, client="laptop")
    theirs = get_token(api, a_admin.username, client="their script")
    client.force_login(a_rep)
    page = client.get(reverse("portal-tokens"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "laptop" in html and mine[:8] in html
    assert "their script" not in html and theirs[:8] not in html
    their_digest = ApiToken.objects.get(user=a_admin).digest
    assert client.post(reverse("portal-tokens"), {"token": their_digest}).status_code == 404
    my_digest = ApiToken.objects.get(user=a_rep).digest
    response = client.post(reverse("portal-tokens"), {"token": my_digest})
    assert response.status_code == 302
    assert with_token(api, mine).get("/api/v1/partners/").status_code == 401
    assert with_token(api, theirs).get("/api/v1/partners/").status_code == 200


def test_the_admin_shows_staff_their_own_tokens_and_admins_everyones(
    api, client, manager, vendor_admin, a_rep
):
    ApiToken.objects.create(user=manager, client="manager's laptop")
    ApiToken.objects.create(user=a_rep, client="rep's script")
    client.force_login(manager)
    listing = client.get("/admin/partners/apitoken/").content.decode()
    assert "manager&#x27;s laptop" in listing and "rep&#x27;s script" not in listing
    client.force_login(vendor_admin)
    listing = client.get("/admin/partners/apitoken/").content.decode()
    assert "manager&#x27;s laptop" in listing and "rep&#x27;s script" in listing
    rep_token = ApiToken.objects.get(user=a_rep)
    response = client.post(
        "/admin/partners/apitoken/",
        {"action": "revoke", "_selected_action": [rep_token.pk], "index": 0},
    )
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=a_rep).exists()
    assert ApiToken.objects.filter(user=manager).exists()


def test_a_manager_cannot_revoke_someone_elses_token_in_the_admin(client, manager, a_rep):
    ApiToken.objects.create(user=a_rep, client="rep's script")
    rep_token = ApiToken.objects.get(user=a_rep)
    client.force_login(manager)
    client.post(
        "/admin/partners/apitoken/",
        {"action": "revoke", "_selected_action": [rep_token.pk], "index": 0},
    )
    assert ApiToken.objects.filter(user=a_rep).exists()


def test_issuing_sweeps_expired_tokens(a_rep):
    old, _ = ApiToken.objects.create(user=a_rep, expiry=timedelta(seconds=-1))
    services.api_token_issue(user=a_rep)
    assert not ApiToken.objects.filter(digest=old.digest).exists()


def test_staff_fixture_users_have_two_factor_sign_in():
    user = StaffFactory(username="gail")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert len(totp_code()) == 6


# ---------------------------------------------------------------- the old tokens


def test_the_old_never_expiring_tokens_are_retired(a_rep):
    """Migration partners.0020: DRF's authtoken table (tokens stored as sent) is dropped,
    with the app's bookkeeping; none of its tokens is carried over."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz, "
            "user_id bigint NOT NULL UNIQUE REFERENCES partners_user (id))"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', "
            "now(), %s)",
            [a_rep.pk],
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('authtoken', '0001_initial', now())"
        )
    ContentType.objects.create(app_label="authtoken", model="token")

    migration = import_module("partners.migrations.0020_retire_drf_tokens")
    with connection.schema_editor() as editor:
        migration.retire(apps, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone()[0] == 0
    assert not ContentType.objects.filter(app_label="authtoken").exists()
    assert not ApiToken.objects.exists()
