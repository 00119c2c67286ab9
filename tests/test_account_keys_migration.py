"""The data migrations of customer identity (RULEBOOK §4), run on the current schema
with rows as they were before: keys recomputed, shared keys merged or left to a manager,
nothing lost. (Run directly, not through the migration executor, whose state rendering
would cost minutes per test.)"""

import importlib
from datetime import UTC, date, datetime

import pytest
from django.apps import apps
from django.db import connection

from deals.models import ConflictCase, Deal
from partners.models import Account, Lead
from tests.factories import (
    AccountFactory,
    DealFactory,
    LeadFactory,
    PartnerFactory,
    WonDealFactory,
)

pytestmark = pytest.mark.django_db

keys_migration = importlib.import_module("deals.migrations.0011_account_keys")
survey_migration = importlib.import_module("deals.migrations.0010_review_and_survey_date")


def as_before(account: Account, *, domain_key: str, name_key: str) -> Account:
    """The keys the account had before: host-level domain, name with its "The"."""
    Account.objects.filter(pk=account.pk).update(
        domain_key=domain_key, name_key=name_key, domain_skeleton="", name_skeleton=""
    )
    return account


UNIQUE_KEYS = ("account_domain_unique", "account_name_unique_no_domain")


def unique_keys(action: str) -> None:
    """What partners/0015 drops and 0016 adds back around the recomputation."""
    constraints = [c for c in Account._meta.constraints if c.name in UNIQUE_KEYS]
    with connection.cursor() as cursor:  # as at the end of a migration's transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with connection.schema_editor() as editor:
        for constraint in constraints:
            getattr(editor, f"{action}_constraint")(Account, constraint)


def test_keys_are_recomputed_and_shared_keys_merged_or_left_to_a_manager():
    unique_keys("remove")
    first, second = PartnerFactory(), PartnerFactory()
    globex = as_before(
        AccountFactory(name="Globex", domain="globex.example"),
        domain_key="globex.example",
        name_key="globex",
    )
    globex_eu = as_before(
        AccountFactory(name="Globex EU", domain="eu.globex.example", direct_rep="r@v.example"),
        domain_key="eu.globex.example",
        name_key="globex eu",
    )
    lost = DealFactory(
        partner=second, account=globex_eu, status="lost", closed_on=date(2026, 10, 5)
    )
    lead = LeadFactory(company_name="Globex", domain="sales@eu.globex.example")
    Lead.objects.filter(pk=lead.pk).update(domain_key="eu.globex.example", account=globex_eu)
    initech = as_before(
        AccountFactory(name="Initech", domain="initech.example"),
        domain_key="initech.example",
        name_key="initech",
    )
    initech_uk = as_before(
        AccountFactory(name="Initech UK", domain="uk.initech.example"),
        domain_key="uk.initech.example",
        name_key="initech uk",
    )
    earlier = DealFactory(
        partner=first, account=initech, submitted_at=datetime(2026, 10, 1, tzinfo=UTC)
    )
    later = DealFactory(
        partner=second, account=initech_uk, submitted_at=datetime(2026, 10, 2, tzinfo=UTC)
    )
    cafe = as_before(
        AccountFactory(name="The Café Müller", domain=""), domain_key="", name_key="the cafe muller"
    )

    keys_migration.recompute(apps, connection.schema_editor())
    unique_keys("add")  # the recomputed keys hold the constraints again

    # One customer, one registrable domain: merged into the one that had the key, with
    # its registrations, leads and direct rep; the merged one is kept, and says so.
    globex_eu.refresh_from_db()
    assert (globex_eu.merged_into_id, globex_eu.domain_key) == (globex.pk, "globex.example")
    assert Deal.objects.get(pk=lost.pk).account_id == globex.pk
    lead.refresh_from_db()
    assert (lead.account_id, lead.domain_key) == (globex.pk, "globex.example")
    assert Account.objects.get(pk=globex.pk).direct_rep == "r@v.example"
    assert globex_eu.history.filter(history_change_reason__startswith="Merged into").exists()
    # Two partners' open registrations cannot share one account: left to a manager.
    initech_uk.refresh_from_db()
    assert (initech_uk.merged_into_id, initech_uk.domain_key) == (None, "uk.initech.example")
    later.refresh_from_db()
    assert (later.needs_review, later.review_reason, later.review_match_id) == (
        True,
        "same_domain",
        earlier.pk,
    )
    case = ConflictCase.objects.get(deal=later)
    assert (case.scenario, case.status, case.other_deal_id) == ("two_partners", "open", earlier.pk)
    # Names lose a leading "The" and diacritics; skeletons are filled in.
    cafe.refresh_from_db()
    assert (cafe.name_key, cafe.name_skeleton) == ("cafe muller", "cafe rnuller")
    assert Account.objects.get(pk=globex.pk).domain_skeleton == "globex"
    assert Account.objects.count() == 5  # nothing deleted


def test_a_csat_given_before_counts_on_its_deals_close_date():
    with connection.cursor() as cursor:  # the rows as they were: no survey date yet
        cursor.execute("ALTER TABLE deals_deal DROP CONSTRAINT deal_csat_has_survey_date")
    won = WonDealFactory(csat=4, closed_on=date(2026, 10, 9))
    Deal.objects.filter(pk=won.pk).update(csat_surveyed_on=None)

    survey_migration.date_earlier_answers(apps, connection.schema_editor())

    won.refresh_from_db()
    assert won.csat_surveyed_on == date(2026, 10, 9)
