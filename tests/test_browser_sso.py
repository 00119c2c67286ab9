"""Single sign-on end to end in Chromium, against identity providers started here on
127.0.0.1: django-oauth-toolkit's OpenID Connect provider (a process of its own) and a
pysaml2 SAML IdP (a thread). The portal's side is allauth's providers, configured by the
organisations' set-ups (integrations.SsoSetup)."""

import os
import urllib.request
from pathlib import Path

import pytest

from integrations.models import SsoProtocol
from integrations.services import sso_setup_save
from partners.models import PartnerRole, PartnerUser, User
from prm.roles import Role
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory, totp_code
from tests.saml_idp import SamlIdp, SamlPerson
from tests.sso_idps import IDP_PASSWORD, oidc_idp_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

PASSWORD = "Correct-Horse-9"
CLIENT_SECRET = "alpha-client-secret-0123456789"
STAFF_SECRET = "staff-client-secret-0123456789"
# Screenshots of the sign-in page and the hop to the IdP, at a phone's width, for a look.
SCREENSHOTS = Path(os.environ.get("SSO_SCREENSHOTS", "var/screenshots"))


@pytest.fixture(scope="module")
def oidc_idp(live_server, tmp_path_factory):
    callback = f"{live_server.url}/auth/oidc/%s/login/callback/"
    idp = oidc_idp_start(
        tmp_path_factory.mktemp("oidc-idp"),
        people=[
            {
                "username": "olivia",
                "email": "olivia@alpha.example",
                "first_name": "Olivia",
                "last_name": "Okafor",
                "groups": ["Everyone", "PRM Admins"],
            },
            {"username": "oscar", "email": "oscar@alpha.example", "groups": ["Everyone"]},
            {
                "username": "stella",
                "email": "stella@vendor.example",
                "first_name": "Stella",
                "groups": ["Channel Chiefs"],
            },
            {"username": "victor", "email": "victor@vendor.example", "groups": []},
        ],
        clients=[
            {
                "client_id": "prm-alpha",
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [callback % "alphaexample"],
            },
            {
                "client_id": "prm-staff",
                "client_secret": STAFF_SECRET,
                "redirect_uris": [callback % "staff"],
            },
        ],
    )
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def saml_idp(tmp_path_factory):
    idp = SamlIdp(
        tmp_path_factory.mktemp("saml-idp"),
        [
            SamlPerson(
                "sofia", IDP_PASSWORD, "sofia@bravo.example", "Sofia", "Silva", ["prm-admins"]
            ),
            SamlPerson("sven", IDP_PASSWORD, "sven@bravo.example", "Sven", "Stone", []),
        ],
    ).start()
    yield idp
    idp.stop()


@pytest.fixture
def alpha():
    return PartnerFactory(name="Alpha Systems", domain="alpha.example")


@pytest.fixture
def alpha_oidc(alpha, oidc_idp):
    return sso_setup_save(
        setup=None,
        partner=alpha,
        protocol=SsoProtocol.OIDC,
        name="Alpha Okta",
        domains=["alpha.example"],
        default_role=PartnerRole.REP,
        role_claim="groups",
        role_map={"PRM Admins": PartnerRole.ADMIN},
        server_url=oidc_idp.issuer,
        client_id="prm-alpha",
        client_secret=CLIENT_SECRET,
    )


def vendor_oidc(oidc_idp, *, idp_enforces_mfa: bool):
    return sso_setup_save(
        setup=None,
        partner=None,
        protocol=SsoProtocol.OIDC,
        name="Vendor Entra",
        domains=["vendor.example"],
        default_role=Role.CHANNEL_MANAGER,
        role_claim="groups",
        role_map={"Channel Chiefs": Role.CHANNEL_CHIEF},
        idp_enforces_mfa=idp_enforces_mfa,
        server_url=oidc_idp.issuer,
        client_id="prm-staff",
        client_secret=STAFF_SECRET,
    )


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def hold_the_hop(route) -> None:
    response = route.fetch()
    body = response.text().replace('http-equiv="refresh"', 'name="held"')
    route.fulfill(response=response, body=body)


def continue_with_sso(page, live_server, login: str) -> None:
    """Type the work e-mail on the sign-in page, no password, and continue."""
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_login", login)
    page.click("button[type=submit]")


def signed_in_at(live_server):
    """A page of the portal past the sign-in: a staff member's home is their dashboard."""
    return lambda url: url.startswith(live_server.url) and "/auth/" not in url


def sign_in_at_idp(page, username: str, password: str = IDP_PASSWORD) -> None:
    page.wait_for_selector("#idp-login")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#idp-submit")
    page.wait_for_load_state()


def test_a_partner_person_signs_in_through_openid_connect_as_their_partner_with_the_mapped_role(
    page, live_server, alpha, alpha_oidc, oidc_idp
):
    PartnerFactory(name="Bravo Networks", domain="bravo.example")
    page.set_viewport_size({"width": 390, "height": 844})
    # The hop page goes on by itself at once; held here (its refresh taken out) to be seen.
    page.route("**/auth/login/", hold_the_hop)
    page.goto(f"{live_server.url}/auth/login/")
    screenshot(page, "sign-in-390")
    page.fill("#id_login", "olivia@alpha.example")
    page.click("button[type=submit]")

    hop = page.text_content("[data-testid=sso-continue]")
    assert f"Alpha Systems at {oidc_idp.base.removeprefix('http://')}" in hop
    screenshot(page, "sso-hop-390")
    page.unroute("**/auth/login/")
    page.click("text=Continue")
    page.wait_for_url(f"{oidc_idp.base}/login/**")
    # The IdP was told who is coming (login_hint) and shows its own sign-in form.
    assert page.input_value("#id_username") == "olivia@alpha.example"
    screenshot(page, "idp-hop-oidc-390")
    sign_in_at_idp(page, "olivia")

    page.wait_for_url(f"{live_server.url}/portal/home/")
    olivia = User.objects.get(email="olivia@alpha.example")
    member = PartnerUser.objects.get(user=olivia)
    assert (member.partner, member.role) == (alpha, PartnerRole.ADMIN)
    assert (olivia.first_name, olivia.last_name) == ("Olivia", "Okafor")
    assert not olivia.has_usable_password()
    page.goto(f"{live_server.url}/portal/team/")
    assert "olivia@alpha.example" in page.text_content("[data-testid=members]")

    # Someone without a mapped group gets the default role.
    page.context.clear_cookies()
    continue_with_sso(page, live_server, "oscar@alpha.example")
    sign_in_at_idp(page, "oscar")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    assert PartnerUser.objects.get(user__email="oscar@alpha.example").role == PartnerRole.REP


def test_a_partner_person_signs_in_through_saml_as_their_partner_with_the_mapped_role(
    page, live_server, saml_idp
):
    bravo = PartnerFactory(name="Bravo Networks", domain="bravo.example")
    setup = sso_setup_save(
        setup=None,
        partner=bravo,
        protocol=SsoProtocol.SAML,
        name="Bravo SAML",
        domains=["bravo.example"],
        default_role=PartnerRole.REP,
        role_claim="groups",
        role_map={"prm-admins": PartnerRole.ADMIN},
        metadata_url=saml_idp.metadata_url,
    )
    slug = setup.app.client_id
    sp_metadata = urllib.request.urlopen(f"{live_server.url}/auth/saml/{slug}/metadata/").read()
    saml_idp.trust_sp(sp_metadata.decode())

    page.set_viewport_size({"width": 390, "height": 844})
    continue_with_sso(page, live_server, "sofia@bravo.example")
    page.wait_for_url(f"{saml_idp.base}/sso/redirect?**")
    assert f"/auth/saml/{slug}/metadata/" in page.text_content("body")
    screenshot(page, "idp-hop-saml-390")
    sign_in_at_idp(page, "sofia")

    page.wait_for_url(f"{live_server.url}/portal/home/")
    sofia = User.objects.get(email="sofia@bravo.example")
    member = PartnerUser.objects.get(user=sofia)
    assert (member.partner, member.role) == (bravo, PartnerRole.ADMIN)
    assert (sofia.first_name, sofia.last_name) == ("Sofia", "Silva")

    # The second sign-in finds the same login through its link.
    page.context.clear_cookies()
    continue_with_sso(page, live_server, "sofia@bravo.example")
    sign_in_at_idp(page, "sofia")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    assert User.objects.filter(email="sofia@bravo.example").count() == 1
    assert sofia.socialaccount_set.count() == 1


def test_password_sign_in_is_refused_where_the_organisation_turned_it_off(
    page, live_server, alpha, alpha_oidc, oidc_idp
):
    PartnerUserFactory(
        partner=alpha, user__username="pat", user__email="pat@alpha.example"
    )  # from before single sign-on, with a password
    sso_setup_save(
        setup=alpha_oidc,
        partner=alpha,
        protocol=SsoProtocol.OIDC,
        name="Alpha Okta",
        domains=["alpha.example"],
        default_role=PartnerRole.REP,
        password_sign_in=False,
        server_url=oidc_idp.issuer,
        client_id="prm-alpha",
    )
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_login", "pat")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    message = page.text_content(".alert-danger")
    assert "Alpha Systems signs in through its identity provider" in message
    assert page.url.startswith(f"{live_server.url}/auth/login/")

    # The work e-mail with the old password goes to the identity provider all the same.
    page.fill("#id_login", "pat@alpha.example")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{oidc_idp.base}/login/**")

    # And there is no password to reset.
    page.goto(f"{live_server.url}/auth/password/reset/")
    page.fill("input[name=email]", "pat@alpha.example")
    page.click("button[type=submit]")
    assert "there is no password here to reset" in page.text_content("body")


def test_the_sign_in_page_routes_by_the_e_mail_domain(
    page, live_server, alpha, alpha_oidc, oidc_idp
):
    bravo = PartnerFactory(name="Bravo Networks", domain="bravo.example")
    PartnerUserFactory(partner=bravo, user__username="bea", user__email="bea@bravo.example")

    # A domain with single sign-on: the hop page, then the IdP.
    continue_with_sso(page, live_server, "Someone@Alpha.Example")
    page.wait_for_url(f"{oidc_idp.base}/login/**")

    # A domain without: the password, as before.
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_login", "bea@bravo.example")
    page.click("button[type=submit]")
    assert page.url.startswith(f"{live_server.url}/auth/login/")
    assert "This field is required" in page.text_content("body")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/home/")


def test_staff_through_a_vendor_idp_trusted_for_two_factor_sign_in_skip_the_code(
    page, live_server, oidc_idp
):
    vendor_oidc(oidc_idp, idp_enforces_mfa=True)
    continue_with_sso(page, live_server, "stella@vendor.example")
    sign_in_at_idp(page, "stella")
    page.wait_for_url(signed_in_at(live_server))
    stella = User.objects.get(email="stella@vendor.example")
    assert (stella.role, stella.is_staff) == (Role.CHANNEL_CHIEF, True)
    assert not hasattr(stella, "membership") or not PartnerUser.objects.filter(user=stella)
    # Signed in, without an authenticator app, and not sent to set one up.
    page.goto(f"{live_server.url}/admin/")
    assert page.url == f"{live_server.url}/admin/"


def test_staff_through_a_vendor_idp_not_trusted_for_it_still_give_the_code(
    page, live_server, oidc_idp
):
    vendor_oidc(oidc_idp, idp_enforces_mfa=False)
    StaffFactory(username="victor", email="victor@vendor.example", role=Role.CHANNEL_MANAGER)
    continue_with_sso(page, live_server, "victor@vendor.example")
    sign_in_at_idp(page, "victor")
    page.wait_for_url(f"{live_server.url}/auth/2fa/authenticate/")
    page.fill("#id_code", totp_code())
    page.click("button[type=submit]:has-text('Sign In')")
    page.wait_for_url(signed_in_at(live_server))

    # A staff member made at the first sign-in sets up an authenticator app first; the
    # set-up page asks for no password, which they do not have.
    page.context.clear_cookies()
    continue_with_sso(page, live_server, "stella@vendor.example")
    sign_in_at_idp(page, "stella")
    page.wait_for_url(f"{live_server.url}/auth/2fa/totp/activate/")
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_url(f"{live_server.url}/auth/2fa/totp/activate/")
