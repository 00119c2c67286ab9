"""Single sign-on's rules: routing by e-mail domain, who an identity provider may sign in
and as what, passwords turned off, bad configuration answered with a message (never a
500), and the set-ups' admin. The identity provider's side is answered by ``responses``
(OpenID Connect) or is a pysaml2 IdP's metadata; tests/test_browser_sso.py runs the
whole hop in Chromium against real local providers."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.models import SsoDomain, SsoProtocol, SsoSetup
from integrations.rules import claim_values, domain_key, email_domain, role_from_claims
from integrations.services import sso_setup_save
from partners.models import PartnerRole, PartnerUser, User
from prm.roles import Role
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"
ISSUER = "https://alpha.idp.test"
VENDOR_ISSUER = "https://vendor.idp.test"


def oidc_setup(partner, *, issuer=ISSUER, domains=("alpha.example",), **changes):
    fields = {
        "setup": None,
        "partner": partner,
        "protocol": SsoProtocol.OIDC,
        "name": "Okta",
        "domains": list(domains),
        "default_role": PartnerRole.REP if partner else Role.CHANNEL_MANAGER,
        "role_claim": "groups",
        "role_map": {"PRM Admins": PartnerRole.ADMIN} if partner else {},
        "server_url": issuer,
        "client_id": "prm",
        "client_secret": "s3cret",
    }
    return sso_setup_save(**{**fields, **changes})


def idp_answers(rsps, claims: dict, *, issuer: str = ISSUER) -> None:
    """The OpenID Connect provider's side: discovery, the token, the user info."""
    rsps.get(
        f"{issuer}/.well-known/openid-configuration",
        json={
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        },
    )
    rsps.post(f"{issuer}/token", json={"access_token": "at-1", "token_type": "Bearer"})
    rsps.get(f"{issuer}/userinfo", json={"sub": claims.get("email", "x"), **claims})


def sso_sign_in(client, login: str, claims: dict, *, issuer: str = ISSUER):
    """Type ``login`` on the sign-in page, hop to the IdP, and come back with ``claims``;
    answers the callback's response."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        idp_answers(rsps, claims, issuer=issuer)
        hop = client.post(reverse("account_login"), {"login": login, "password": ""})
        assert hop.status_code == 200, hop.content.decode()[:500]
        location = hop.context["location"]
        assert location.startswith(f"{issuer}/authorize?")
        query = parse_qs(urlsplit(location).query)
        callback = urlsplit(query["redirect_uri"][0]).path
        return client.get(callback, {"code": "c0de", "state": query["state"][0]})


@pytest.fixture
def alpha():
    return PartnerFactory(name="Alpha Systems", domain="alpha.example")


@pytest.fixture
def bravo():
    return PartnerFactory(name="Bravo Networks", domain="bravo.example")


# ---------------------------------------------------------------- the rules


def test_email_domain_reads_name_at_domain_only():
    assert email_domain("Olivia@Alpha.Example ") == "alpha.example"
    assert email_domain("olivia") == ""
    assert email_domain("@alpha.example") == ""
    assert email_domain("a@b@alpha.example") == ""
    assert email_domain("x@bücher.de") == "xn--bcher-kva.de"
    with pytest.raises(ValueError):
        domain_key("localhost")


def test_the_highest_mapped_role_wins_and_case_does_not_matter():
    mapping = {"PRM Admins": "admin", "Sales": "rep"}
    ranking = ("admin", "rep")
    assert role_from_claims(["sales", "prm admins"], mapping, default="rep", ranking=ranking) == (
        "admin"
    )
    assert role_from_claims(["Other"], mapping, default="rep", ranking=ranking) == "rep"
    assert claim_values({"groups": "Sales"}, "groups") == ["Sales"]
    assert claim_values({"groups": ["a", " ", "b"]}, "groups") == ["a", "b"]
    assert claim_values({"groups": {"nested": 1}}, "groups") == []


# ---------------------------------------------------------------- the set-ups


def test_a_set_up_gives_only_its_organisations_roles(alpha):
    with pytest.raises(ValidationError) as refused:
        oidc_setup(alpha, default_role=Role.CHANNEL_CHIEF)
    assert "default_role" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        oidc_setup(alpha, role_map={"Money": Role.FINANCE})
    assert "role_map" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        oidc_setup(alpha, idp_enforces_mfa=True)
    assert "idp_enforces_mfa" in refused.value.message_dict
    assert not SsoSetup.objects.exists()


def test_an_e_mail_domain_routes_to_one_organisation_only(alpha, bravo):
    oidc_setup(alpha, domains=["alpha.example", "Alpha-Labs.Example"])
    assert set(SsoDomain.objects.values_list("domain", flat=True)) == {
        "alpha.example",
        "alpha-labs.example",
    }
    with pytest.raises(ValidationError) as refused:
        oidc_setup(bravo, issuer="https://bravo.idp.test", domains=["alpha-labs.example"])
    assert "alpha-labs.example" in refused.value.message_dict["domains"][0]


def test_an_issuer_must_be_https_and_a_secret_may_come_from_the_environment(alpha, monkeypatch):
    with pytest.raises(ValidationError) as refused:
        oidc_setup(alpha, issuer="http://idp.example.com")
    assert "server_url" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        oidc_setup(alpha, client_secret="env:ALPHA_OIDC_SECRET")
    assert "ALPHA_OIDC_SECRET" in refused.value.message_dict["client_secret"][0]
    monkeypatch.setenv("ALPHA_OIDC_SECRET", "from-the-environment")
    setup = oidc_setup(alpha, client_secret="env:ALPHA_OIDC_SECRET")
    assert setup.app.secret == "env:ALPHA_OIDC_SECRET"  # the name is stored, not the secret
    from allauth.socialaccount.adapter import get_adapter

    app = get_adapter().get_app(None, provider=setup.app.provider_id)
    assert app.secret == "from-the-environment"


def test_a_saml_set_up_reads_pasted_metadata_and_refuses_what_is_not(alpha, tmp_path):
    from tests.saml_idp import SamlIdp

    idp = SamlIdp(tmp_path, [])
    try:
        xml = idp_metadata(idp)
        setup = sso_setup_save(
            setup=None,
            partner=alpha,
            protocol=SsoProtocol.SAML,
            name="",
            domains=["alpha.example"],
            default_role=PartnerRole.REP,
            metadata_xml=xml,
        )
        assert setup.app.settings["idp"]["entity_id"] == idp.metadata_url
        assert setup.app.settings["idp"]["sso_url"] == f"{idp.base}/sso/redirect"
        assert setup.app.settings["advanced"]["want_assertion_signed"] is True
        with pytest.raises(ValidationError) as refused:
            sso_setup_save(
                setup=setup,
                partner=alpha,
                protocol=SsoProtocol.SAML,
                name="",
                domains=["alpha.example"],
                default_role=PartnerRole.REP,
                metadata_xml="<not-metadata/>",
            )
        assert "metadata_xml" in refused.value.message_dict
    finally:
        idp.httpd.server_close()


def idp_metadata(idp) -> str:
    from saml2.metadata import create_metadata_string

    return create_metadata_string(None, config=idp._config()).decode()


# ---------------------------------------------------------------- who signs in, as what


def test_a_new_person_is_made_in_the_set_ups_partner_with_the_mapped_role(client, alpha, bravo):
    oidc_setup(alpha)
    response = sso_sign_in(
        client,
        "olivia@alpha.example",
        {"email": "olivia@alpha.example", "given_name": "Olivia", "groups": ["PRM Admins"]},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    member = PartnerUser.objects.select_related("user").get(user__email="olivia@alpha.example")
    assert (member.partner, member.role, member.user.role) == (
        alpha,
        PartnerRole.ADMIN,
        Role.PARTNER,
    )
    assert not member.user.has_usable_password()
    assert client.get("/portal/home/").status_code == 200


def test_without_a_mapped_group_the_default_role_is_given(client, alpha):
    oidc_setup(alpha)
    sso_sign_in(client, "oscar@alpha.example", {"email": "oscar@alpha.example", "groups": []})
    assert PartnerUser.objects.get(user__email="oscar@alpha.example").role == PartnerRole.REP


def test_an_existing_person_of_the_same_partner_is_linked_not_duplicated(client, alpha):
    pat = PartnerUserFactory(
        partner=alpha, role=PartnerRole.REP, user__username="pat", user__email="pat@alpha.example"
    ).user
    oidc_setup(alpha)
    response = sso_sign_in(
        client, "pat@alpha.example", {"email": "Pat@Alpha.example", "groups": ["PRM Admins"]}
    )
    assert response.status_code == 302
    assert SocialAccount.objects.get().user == pat
    assert User.objects.filter(email__iexact="pat@alpha.example").count() == 1
    # The role of an existing login is kept: it is changed in the portal or the admin.
    assert PartnerUser.objects.get(user=pat).role == PartnerRole.REP


def test_a_partners_idp_cannot_sign_in_another_partners_person(client, alpha, bravo):
    bob = PartnerUserFactory(
        partner=bravo, user__username="bob", user__email="bob@bravo.example"
    ).user
    oidc_setup(alpha)
    # Alpha's IdP asserts an address of Bravo's (typed as one of Alpha's domain).
    response = sso_sign_in(client, "x@alpha.example", {"email": "bob@bravo.example"})
    assert response.status_code == 403
    assert "does not belong to Alpha Systems" in response.content.decode()
    assert not SocialAccount.objects.exists()
    assert "_auth_user_id" not in client.session
    assert not PartnerUser.objects.filter(partner=alpha, user=bob).exists()


def test_a_partners_idp_cannot_sign_in_staff(client, alpha, manager):
    manager.email = "manager@alpha.example"
    manager.save()
    oidc_setup(alpha)
    response = sso_sign_in(client, "manager@alpha.example", {"email": "manager@alpha.example"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not SocialAccount.objects.exists()


def test_no_login_is_made_for_an_address_outside_the_set_ups_domains(client, alpha):
    oidc_setup(alpha)
    response = sso_sign_in(client, "x@alpha.example", {"email": "eve@elsewhere.example"})
    assert response.status_code == 403
    assert "not in an e-mail domain of Alpha Systems" in response.content.decode()
    assert not User.objects.filter(email="eve@elsewhere.example").exists()


def test_an_idp_that_sends_no_e_mail_is_refused_with_a_message(client, alpha):
    oidc_setup(alpha)
    response = sso_sign_in(client, "x@alpha.example", {"sub": "42"})
    assert response.status_code == 403
    assert "did not send an e-mail address" in response.content.decode()


def test_a_linked_login_that_moved_to_another_partner_is_refused(client, alpha, bravo):
    oidc_setup(alpha)
    sso_sign_in(client, "mo@alpha.example", {"email": "mo@alpha.example"})
    member = PartnerUser.objects.get(user__email="mo@alpha.example")
    member.partner = bravo
    member.save()
    client.logout()
    response = sso_sign_in(client, "mo@alpha.example", {"email": "mo@alpha.example"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_vendors_idp_makes_staff_with_the_mapped_role_and_refuses_partner_people(client, alpha):
    PartnerUserFactory(partner=alpha, user__username="ann", user__email="ann@vendor.example")
    oidc_setup(
        None,
        issuer=VENDOR_ISSUER,
        domains=["vendor.example"],
        role_map={"Finance": Role.FINANCE, "Chiefs": Role.CHANNEL_CHIEF},
        idp_enforces_mfa=True,
    )
    claims = {"email": "fay@vendor.example", "groups": ["Finance", "Chiefs"]}
    response = sso_sign_in(client, "fay@vendor.example", claims, issuer=VENDOR_ISSUER)
    assert response.status_code == 302
    fay = User.objects.get(email="fay@vendor.example")
    assert (fay.role, fay.is_staff, fay.is_superuser) == (Role.CHANNEL_CHIEF, True, False)
    client.logout()
    refused = sso_sign_in(
        client, "ann@vendor.example", {"email": "ann@vendor.example"}, issuer=VENDOR_ISSUER
    )
    assert refused.status_code == 403


def test_staff_give_the_code_unless_the_vendors_idp_is_trusted_for_it(client):
    StaffFactory(username="val", email="val@vendor.example", role=Role.CHANNEL_MANAGER)
    setup = oidc_setup(None, issuer=VENDOR_ISSUER, domains=["vendor.example"])
    response = sso_sign_in(
        client, "val@vendor.example", {"email": "val@vendor.example"}, issuer=VENDOR_ISSUER
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302 and "_auth_user_id" in client.session

    client.logout()
    setup.idp_enforces_mfa = True
    setup.save()
    response = sso_sign_in(
        client, "val@vendor.example", {"email": "val@vendor.example"}, issuer=VENDOR_ISSUER
    )
    assert response.status_code == 302 and response["Location"] != reverse("mfa_authenticate")
    assert "_auth_user_id" in client.session


# ---------------------------------------------------------------- passwords turned off


@pytest.fixture
def passwords_off(alpha):
    pat = PartnerUserFactory(
        partner=alpha, user__username="pat", user__email="pat@gmail.example"
    ).user
    setup = oidc_setup(alpha, password_sign_in=False)
    return setup, pat


def test_the_password_form_refuses_them_with_a_clear_message(client, passwords_off):
    response = client.post(reverse("account_login"), {"login": "pat", "password": PASSWORD})
    assert response.status_code == 200
    assert "Alpha Systems signs in through its identity provider" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # A wrong password is told nothing more than any wrong password.
    wrong = client.post(reverse("account_login"), {"login": "pat", "password": "nope-nope-1"})
    assert "identity provider" not in wrong.content.decode()
    assert "not correct" in wrong.content.decode()


def test_the_api_refuses_them_a_token(api, passwords_off):
    response = api().post(reverse("api-token"), {"username": "pat", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["code"] == "sso_required"


def test_password_reset_is_refused_for_their_domain_and_silent_for_other_addresses(
    client, passwords_off, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    response = client.post(reverse("account_reset_password"), {"email": "x@alpha.example"})
    assert response.status_code == 200
    assert "there is no password here to reset" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "pat@gmail.example"})
    assert response.status_code == 302  # as for any address: nothing told
    queued_mail()
    assert not mailoutbox


def test_a_reset_link_from_before_sets_no_password(client, passwords_off):
    _setup, pat = passwords_off
    key = default_token_generator.make_token(pat)
    url = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(pat), "key": key}
    )
    page = client.get(url, follow=True)
    target = page.redirect_chain[-1][0] if page.redirect_chain else url
    response = client.post(target, {"password1": "N3w-Passw0rd!", "password2": "N3w-Passw0rd!"})
    assert response.status_code == 200
    assert "signs in through its identity provider" in response.content.decode()
    pat.refresh_from_db()
    assert pat.check_password(PASSWORD)


def test_switching_the_set_up_off_gives_passwords_back(client, passwords_off):
    setup, _pat = passwords_off
    setup.is_active = False
    setup.save()
    response = client.post(reverse("account_login"), {"login": "pat", "password": PASSWORD})
    assert response.status_code == 302
    client.logout()
    # And the domain is no longer routed: the password is asked for.
    response = client.post(reverse("account_login"), {"login": "x@alpha.example"})
    assert "This field is required" in response.content.decode()


def test_with_passwords_on_an_address_of_the_domain_may_still_use_its_password(client, alpha):
    PartnerUserFactory(partner=alpha, user__username="pam", user__email="pam@alpha.example")
    oidc_setup(alpha)
    response = client.post(
        reverse("account_login"), {"login": "pam@alpha.example", "password": PASSWORD}
    )
    assert response.status_code == 302 and "_auth_user_id" in client.session


# ---------------------------------------------------------------- bad configuration: 4xx


def test_an_unreachable_idp_is_a_message_on_the_sign_in_page(client, alpha):
    oidc_setup(alpha)
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{ISSUER}/.well-known/openid-configuration",
            body=requests.ConnectionError("refused"),
        )
        response = client.post(reverse("account_login"), {"login": "x@alpha.example"})
    assert response.status_code == 400
    assert "identity provider of Alpha Systems cannot start" in response.content.decode()


def test_a_discovery_document_without_endpoints_is_a_message(client, alpha):
    oidc_setup(alpha)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json={"issuer": ISSUER})
        response = client.post(reverse("account_login"), {"login": "x@alpha.example"})
    assert response.status_code == 400
    assert "cannot start" in response.content.decode()


def test_a_callback_with_a_forged_state_or_a_failing_token_endpoint_is_a_400(client, alpha):
    setup = oidc_setup(alpha)
    callback = reverse("openid_connect_callback", kwargs={"provider_id": setup.app.provider_id})
    response = client.get(callback, {"code": "c0de", "state": "forged"})
    assert response.status_code == 400
    assert "could not be accepted" in response.content.decode()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        idp_answers(rsps, {"email": "x@alpha.example"})
        hop = client.post(reverse("account_login"), {"login": "x@alpha.example"})
        state = parse_qs(urlsplit(hop.context["location"]).query)["state"][0]
        rsps.replace(responses.POST, f"{ISSUER}/token", status=500)
        response = client.get(callback, {"code": "c0de", "state": state})
    assert response.status_code == 400
    assert "could not be accepted" in response.content.decode()

    response = client.get(callback, {"error": "access_denied", "state": "x"})
    assert response.status_code in (302, 400)


def test_user_info_without_a_subject_is_a_400_not_a_500(client, alpha):
    oidc_setup(alpha)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        idp_answers(rsps, {"email": "x@alpha.example"})
        rsps.replace(responses.GET, f"{ISSUER}/userinfo", json={"email": "x@alpha.example"})
        hop = client.post(reverse("account_login"), {"login": "x@alpha.example"})
        query = parse_qs(urlsplit(hop.context["location"]).query)
        callback = urlsplit(query["redirect_uri"][0]).path
        response = client.get(callback, {"code": "c0de", "state": query["state"][0]})
    assert response.status_code == 400
    assert "could not be accepted" in response.content.decode()


def test_allauths_own_continue_page_hops_rather_than_redirecting_off_site(client, alpha):
    setup = oidc_setup(alpha)
    url = reverse("openid_connect_login", kwargs={"provider_id": setup.app.provider_id})
    assert client.get(url).status_code == 200
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        idp_answers(rsps, {})
        response = client.post(url)
    assert response.status_code == 200
    assert response.context["location"].startswith(f"{ISSUER}/authorize?")
    assert '<meta http-equiv="refresh"' in response.content.decode()


def test_a_switched_off_set_ups_addresses_are_404(client, alpha):
    setup = oidc_setup(alpha, is_active=False)
    provider_id = setup.app.provider_id
    for name in ("openid_connect_login", "openid_connect_callback"):
        assert client.get(reverse(name, kwargs={"provider_id": provider_id})).status_code == 404
    assert client.get("/auth/saml/nobody/metadata/").status_code == 404
    assert client.post("/auth/saml/nobody/acs/finish/").status_code == 404


def test_a_tampered_saml_response_is_a_400_with_a_message(client, alpha, tmp_path):
    from tests.saml_idp import SamlIdp

    idp = SamlIdp(tmp_path, [])
    try:
        setup = sso_setup_save(
            setup=None,
            partner=alpha,
            protocol=SsoProtocol.SAML,
            name="",
            domains=["alpha.example"],
            default_role=PartnerRole.REP,
            metadata_xml=idp_metadata(idp),
        )
    finally:
        idp.httpd.server_close()
    slug = setup.app.client_id
    # python3-saml takes no single-label host ("testserver") in the addresses it makes.
    client.defaults["HTTP_HOST"] = "localhost"
    assert client.get(f"/auth/saml/{slug}/metadata/").status_code == 200
    hop = client.post(reverse("account_login"), {"login": "x@alpha.example"})
    assert hop.context["location"].startswith(f"{idp.base}/sso/redirect?SAMLRequest=")
    for forged in ("bm90IHNhbWw=", "%%%not-base64"):
        acs = client.post(f"/auth/saml/{slug}/acs/", {"SAMLResponse": forged})
        assert acs.status_code == 302
        response = client.get(acs["Location"])
        assert response.status_code == 400, response.status_code
        assert "could not be accepted" in response.content.decode()


def test_a_provider_link_cannot_connect_an_idp_to_a_signed_in_person(client, partner_a, a_rep):
    setup = oidc_setup(partner_a)
    client.force_login(a_rep)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        idp_answers(rsps, {"email": "x@alpha.example"})
        start = client.post(
            reverse("openid_connect_login", kwargs={"provider_id": setup.app.provider_id}),
            {"process": "connect"},
        )
        # Wherever allauth sends it, no link is made to the signed-in person.
        if start.status_code == 302 and start["Location"].startswith(ISSUER):
            query = parse_qs(urlsplit(start["Location"]).query)
            callback = urlsplit(query["redirect_uri"][0]).path
            response = client.get(callback, {"code": "c", "state": query["state"][0]})
            assert response.status_code == 400
    assert not SocialAccount.objects.exists()


# ---------------------------------------------------------------- the admin


def admin_form(**changes) -> dict:
    data = {
        "partner": "",
        "protocol": SsoProtocol.OIDC,
        "name": "Entra ID",
        "domains": "vendor.example",
        "is_active": "on",
        "server_url": "https://login.microsoftonline.com/tenant/v2.0",
        "client_id": "prm-portal",
        "client_secret": "s3cret",
        "metadata_url": "",
        "metadata_xml": "",
        "default_role": Role.CHANNEL_MANAGER,
        "role_claim": "roles",
        "role_map": '{"PRM.Chief": "channel_chief"}',
        "password_sign_in": "on",
    }
    return {**data, **changes}


def test_an_administrator_sets_up_sso_in_the_admin_and_sees_what_to_give_the_idp(
    client, vendor_admin
):
    client.force_login(vendor_admin)
    response = client.post(reverse("admin:integrations_ssosetup_add"), admin_form())
    assert response.status_code == 302, re.findall(r"errorlist.*?</ul>", response.content.decode())
    setup = SsoSetup.objects.get()
    assert (setup.partner, setup.role_map) == (None, {"PRM.Chief": "channel_chief"})
    assert setup.app.secret == "s3cret"
    page = client.get(reverse("admin:integrations_ssosetup_change", args=[setup.pk]))
    text = page.content.decode()
    assert "http://testserver/auth/oidc/staff/login/callback/" in text
    assert "s3cret" not in text  # the secret is never shown again
    # Saved again with the secret left empty: it is kept.
    response = client.post(
        reverse("admin:integrations_ssosetup_change", args=[setup.pk]),
        admin_form(client_secret="", password_sign_in=""),
    )
    assert response.status_code == 302
    setup.refresh_from_db()
    assert (setup.app.secret, setup.password_sign_in) == ("s3cret", False)


def test_bad_settings_in_the_admin_are_form_errors_not_500s(client, vendor_admin, alpha):
    client.force_login(vendor_admin)
    oidc_setup(alpha)
    add = reverse("admin:integrations_ssosetup_add")
    cases = [
        admin_form(domains="alpha.example"),  # routed to Alpha already
        admin_form(role_map='{"x": "rep"}'),  # a partner role for staff
        admin_form(protocol=SsoProtocol.SAML, metadata_url="http://127.0.0.1:9/none"),
        admin_form(protocol=SsoProtocol.SAML, metadata_xml="not xml at all"),
        admin_form(server_url="ftp://idp"),
        admin_form(role_map="{not json"),
    ]
    for data in cases:
        response = client.post(add, data)
        assert response.status_code == 200, data
        assert "errorlist" in response.content.decode()
    assert SsoSetup.objects.count() == 1


def test_only_administrators_open_the_sso_admin(client, manager, chief, vendor_admin, alpha):
    setup = oidc_setup(alpha)
    for user in (manager, chief):
        client.force_login(user)
        assert client.get(reverse("admin:integrations_ssosetup_changelist")).status_code == 403
        url = reverse("admin:integrations_ssosetup_change", args=[setup.pk])
        assert client.get(url).status_code == 403
    client.force_login(vendor_admin)
    assert client.get(reverse("admin:integrations_ssosetup_changelist")).status_code == 200


def test_deleting_a_set_up_removes_its_idp_and_links_but_keeps_the_logins(client, alpha):
    setup = oidc_setup(alpha)
    sso_sign_in(client, "olivia@alpha.example", {"email": "olivia@alpha.example"})
    from integrations.services import sso_setup_delete

    sso_setup_delete(setup=setup)
    assert not SocialAccount.objects.exists()
    assert User.objects.filter(email="olivia@alpha.example").exists()
