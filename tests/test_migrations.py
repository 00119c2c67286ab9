"""Data migrations keep what was there."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

BEFORE = [("partners", "0012_program_history")]
AFTER = [("partners", "0013_notices_seen_per_person")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def latest_schema_after():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # for the tests that follow


def test_notices_read_before_stay_read_for_everyone_who_could_see_them():
    apps = migrate(BEFORE)
    Program = apps.get_model("partners", "Program")
    Tier = apps.get_model("partners", "Tier")
    Partner = apps.get_model("partners", "Partner")
    User = apps.get_model("partners", "User")
    PartnerUser = apps.get_model("partners", "PartnerUser")
    Notice = apps.get_model("partners", "Notice")
    program = Program.objects.get(is_default=True)
    tier = Tier.objects.filter(program=program).order_by("rank").first()
    partner = Partner.objects.create(
        name="Acme", domain="acme.example", domain_key="acme.example", program=program, tier=tier
    )
    people = [User.objects.create(username=name, email=f"{name}@acme.example") for name in "abc"]
    other = Partner.objects.create(
        name="Other", domain="other.example", domain_key="other.example", program=program, tier=tier
    )
    for person, works_for in zip(people, (partner, partner, other), strict=True):
        PartnerUser.objects.create(partner=works_for, user=person, role="rep")
    seen = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    Notice.objects.create(partner=partner, text="For all", read_at=seen)
    Notice.objects.create(
        partner=partner, user=people[0], text="For a", read_at=seen.replace(hour=11)
    )
    Notice.objects.create(partner=partner, text="Not yet")
    Notice.objects.create(partner=other, text="Elsewhere", read_at=seen.replace(hour=12))

    apps = migrate(AFTER)
    PartnerUser = apps.get_model("partners", "PartnerUser")
    seen_at = dict(PartnerUser.objects.values_list("user__username", "notices_seen_at"))
    # a read its own personal notice later; b only the one for everyone; c, of another
    # partner, what was read there
    assert seen_at == {
        "a": seen.replace(hour=11),
        "b": seen,
        "c": seen.replace(hour=12),
    }
