"""Partner users and certifications: ``/partners/{id}/users/`` and ``/certifications/``."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from enablement.models import Certification
from partners.models import PartnerUser, User

pytestmark = pytest.mark.django_db

NEW_USER = {
    "username": "carol",
    "email": "carol@alpha.example",
    "password": "Long-enough-pass-77",
    "role": "rep",
}


def test_partner_admin_adds_a_rep_who_can_get_a_token(api, a_admin, partner_a):
    response = api(a_admin).post(f"/api/v1/partners/{partner_a.pk}/users/", NEW_USER, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["username"] == "carol"
    assert data["role"] == "rep"
    assert "password" not in data
    token = api().post(
        "/api/v1/auth/token/", {"username": "carol", "password": NEW_USER["password"]}
    )
    assert token.status_code == 200
    assert token.json()["token"]


def test_manager_adds_an_admin_to_own_partner(api, manager, partner_a):
    body = dict(NEW_USER, role="admin")
    response = api(manager).post(f"/api/v1/partners/{partner_a.pk}/users/", body, format="json")
    assert response.status_code == 201
    assert PartnerUser.objects.get(user__username="carol").role == "admin"


def test_rep_and_executive_cannot_add_users(api, a_rep, executive, partner_a):
    url = f"/api/v1/partners/{partner_a.pk}/users/"
    assert api(a_rep).post(url, NEW_USER, format="json").status_code == 403
    assert api(executive).post(url, NEW_USER, format="json").status_code == 403
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "123"}, "password"),
        ({"role": "owner"}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "alice"}, "username"),
    ],
)
def test_bad_user_input_is_a_400_naming_the_field(api, a_admin, partner_a, change, field):
    response = api(a_admin).post(
        f"/api/v1/partners/{partner_a.pk}/users/", dict(NEW_USER, **change), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


def test_last_admin_cannot_be_demoted(api, a_admin, partner_a):
    response = api(a_admin).patch(
        f"/api/v1/partners/{partner_a.pk}/users/{a_admin.pk}/", {"role": "rep"}, format="json"
    )
    assert response.status_code == 400
    assert "admin" in response.json()["role"][0]


def test_admin_deactivates_a_rep(api, a_admin, a_rep, partner_a):
    url = f"/api/v1/partners/{partner_a.pk}/users/{a_rep.pk}/"
    response = api(a_admin).patch(url, {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    a_rep.refresh_from_db()
    assert not a_rep.is_active


def test_user_list_query_count_is_flat(api, a_admin, partner_a, django_assert_max_num_queries):
    from tests.factories import PartnerUserFactory

    PartnerUserFactory.create_batch(25, partner=partner_a)
    with django_assert_max_num_queries(6):
        response = api(a_admin).get(f"/api/v1/partners/{partner_a.pk}/users/?limit=100")
    assert response.json()["count"] == 26


def test_manager_records_a_certification(api, manager, a_rep, partner_a):
    body = {
        "user": a_rep.pk,
        "certification": "demo",
        "issued_on": "2026-01-01",
        "expires_on": "2027-12-31",
    }
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.pk}/certifications/", body, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["certification"] == "demo"
    cert = Certification.objects.get()
    assert (cert.partner, cert.user, cert.awarded_by) == (partner_a, a_rep, manager)


def test_certification_expiry_defaults_to_the_types_validity(api, manager, a_rep, partner_a):
    body = {"user": a_rep.pk, "certification": "solo-demo", "issued_on": "2026-01-31"}
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.pk}/certifications/", body, format="json"
    )
    assert response.status_code == 201
    assert response.json()["expires_on"] == "2028-01-31"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"certification": "astronaut"}, "certification"),
        ({"expires_on": "2025-01-01"}, "expires_on"),
        ({"issued_on": "someday"}, "issued_on"),
    ],
)
def test_bad_certification_is_a_400(api, manager, a_rep, partner_a, change, field):
    body = dict({"user": a_rep.pk, "certification": "demo", "issued_on": "2026-01-01"}, **change)
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.pk}/certifications/", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Certification.objects.exists()


def test_certification_for_another_partners_person_is_refused(api, manager, b_admin, partner_a):
    body = {"user": b_admin.pk, "certification": "demo", "issued_on": "2026-01-01"}
    response = api(manager).post(
        f"/api/v1/partners/{partner_a.pk}/certifications/", body, format="json"
    )
    assert response.status_code == 400
    assert "does not work for" in response.json()["user"][0]


def test_partner_cannot_certify_itself(api, a_admin, partner_a):
    body = {"user": a_admin.pk, "certification": "demo", "issued_on": "2026-01-01"}
    response = api(a_admin).post(
        f"/api/v1/partners/{partner_a.pk}/certifications/", body, format="json"
    )
    assert response.status_code == 403


def test_partner_sees_its_certifications(api, a_rep, partner_a):
    from tests.factories import CertificationFactory

    CertificationFactory(partner=partner_a, user=a_rep, issued_on=date(2026, 1, 1))
    response = api(a_rep).get(f"/api/v1/partners/{partner_a.pk}/certifications/")
    assert response.json()["count"] == 1


def test_invitation_mails_a_working_set_password_link(
    client, a_admin, partner_a, queued_mail, django_capture_on_commit_callbacks
):
    client.force_login(a_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal-team"),
            {"email": "Dana@Alpha.example", "first_name": "Dana", "last_name": "Ng", "role": "rep"},
        )
    assert response.status_code == 302
    member = PartnerUser.objects.get(user__email="dana@alpha.example")
    assert member.invited_by == a_admin
    assert not member.user.has_usable_password()
    assert queued_mail() == 1
    (message,) = mail.outbox
    assert message.to == ["dana@alpha.example"]
    link = next(line for line in message.body.splitlines() if "/auth/password/reset/key/" in line)

    client.logout()
    page = client.get(link.strip(), follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link.strip()
    done = client.post(
        form_url, {"password1": "Brand-new-pass-55", "password2": "Brand-new-pass-55"}
    )
    assert done.status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password("Brand-new-pass-55")


def test_rep_cannot_invite(client, a_rep):
    client.force_login(a_rep)
    response = client.post(reverse("portal-team"), {"email": "x@alpha.example", "role": "rep"})
    assert response.status_code == 403
    assert not mail.outbox


def test_invite_of_existing_email_shows_the_error(client, a_admin, a_rep):
    client.force_login(a_admin)
    response = client.post(reverse("portal-team"), {"email": a_rep.email, "role": "rep"})
    assert response.status_code == 400
    assert "already has a login" in response.content.decode()


def test_a_login_without_a_password_cannot_sign_in_with_one(client, partner_a):
    """For people who sign in by single sign-on, or set a password through a reset link."""
    from partners.services import partner_user_create

    member = partner_user_create(
        partner=partner_a, username="sso.person", email="sso@a.example", password=None
    )
    assert not member.user.has_usable_password()
    response = client.post(
        reverse("account_login"), {"login": "sso.person", "password": "anything-at-all"}
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_a_partner_s_tier_history_starts_the_day_it_started(db, manager):
    from datetime import date

    from django.utils.timezone import localdate

    from partners.services import partner_create

    started = partner_create(
        name="Old Hand", domain="oldhand.example", started_on=date(2024, 5, 2), region="emea"
    )
    initial = started.tier_changes.get()
    assert initial.cause == "initial" and localdate(initial.changed_at) == date(2024, 5, 2)
    assert started.region == "emea"
    later = partner_create(name="Newcomer", domain="newcomer.example", started_on=date(2999, 1, 1))
    assert localdate(later.tier_changes.get().changed_at) < date(2999, 1, 1)  # recorded now
