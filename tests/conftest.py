"""Named users, one per role, and API clients for them (STYLE §11).

partner A (silver) has an admin and a rep and is managed by ``manager``; partner B
(gold) has an admin and is managed by ``other_manager``.
"""

import pytest
from rest_framework.test import APIClient

from partners.models import PartnerRole
from prm.roles import Role

from .factories import PartnerFactory, PartnerUserFactory, StaffFactory, UserFactory, default_tier

pytest_plugins = ["tests.browser", "tests.workers", "tests.qbr_scenario", "tests.mailqueue"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login rate limits live in the cache: every test starts with none counted."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Chinese leaves its language active in the thread (LocaleMiddleware
    activates it and nothing undoes it): every test starts and ends in the default one."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def program_data(db):
    """The data the migrations install, again: a transactional test's flush removes it."""
    from enablement.services import relationship_defaults_install
    from partners.services import program_install

    relationship_defaults_install(program_install(preset="seed001", make_default=True))


@pytest.fixture
def vendor_admin(db):
    return StaffFactory(username="vendoradmin", role=Role.ADMIN, is_superuser=True)


@pytest.fixture
def chief(db):
    return StaffFactory(username="chief", role=Role.CHANNEL_CHIEF)


@pytest.fixture
def executive(db):
    return StaffFactory(username="exec", role=Role.EXECUTIVE)


@pytest.fixture
def finance(db):
    return StaffFactory(username="finance", role=Role.FINANCE)


@pytest.fixture
def manager(db):
    return StaffFactory(username="manager", role=Role.CHANNEL_MANAGER)


@pytest.fixture
def other_manager(db):
    return StaffFactory(username="othermanager", role=Role.CHANNEL_MANAGER)


@pytest.fixture
def partner_a(manager):
    return PartnerFactory(
        name="Alpha Systems",
        domain="alpha.example",
        tier=default_tier("silver"),
        channel_manager=manager,
    )


@pytest.fixture
def partner_b(other_manager):
    return PartnerFactory(
        name="Bravo Networks",
        domain="bravo.example",
        tier=default_tier("gold"),
        channel_manager=other_manager,
    )


@pytest.fixture
def a_admin(partner_a):
    return PartnerUserFactory(
        partner=partner_a, role=PartnerRole.ADMIN, user__username="alice"
    ).user


@pytest.fixture
def a_rep(partner_a):
    return PartnerUserFactory(partner=partner_a, role=PartnerRole.REP, user__username="andy").user


@pytest.fixture
def b_admin(partner_b):
    return PartnerUserFactory(partner=partner_b, role=PartnerRole.ADMIN, user__username="bob").user


@pytest.fixture
def outsider(db):
    """Signed in, but neither staff nor anyone's partner person."""
    return UserFactory(username="outsider")


@pytest.fixture
def api():
    """``api(user)`` → an APIClient authenticated as ``user`` (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
