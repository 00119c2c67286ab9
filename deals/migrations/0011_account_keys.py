# Every customer account and CRM lead gets the keys of RULEBOOK §4: the registrable
# domain (IDNA, Public Suffix List), the name with diacritics and a leading "The" removed,
# and the skeletons a probable same customer shares.
#
# Accounts that now share a key are one customer:
# - merged into the oldest (their registrations, leads and conflict cases move to it; the
#   merged account is kept, pointing at it, and both accounts' history says so), unless
# - they hold open registrations of their own, which one account cannot (first to
#   register wins): then both stay as they were and a manager decides. The later
#   registration opens a two-partner conflict case against the earlier one and, while
#   pending, is held for review instead of being approved automatically.
# Nothing is deleted.

from collections import defaultdict
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

OPEN = ("pending", "approved")
BATCH = 2000


def _keys(account):
    from prm.normalize import (
        domain_skeleton,
        name_skeleton,
        normalize_company_name,
        normalize_domain,
    )

    name_key = normalize_company_name(account.name)
    domain_key = normalize_domain(account.domain)
    return domain_key, name_key, domain_skeleton(domain_key), name_skeleton(name_key)


def _history(apps, account, reason: str, now) -> None:
    Historical = apps.get_model("partners", "HistoricalAccount")
    values = {
        field.attname: getattr(account, field.attname)
        for field in Historical._meta.fields
        if not field.name.startswith("history_") and hasattr(account, field.attname)
    }
    Historical.objects.create(
        **values, history_date=now, history_type="~", history_change_reason=reason[:100]
    )


def recompute(apps, schema_editor):
    Account = apps.get_model("partners", "Account")
    Lead = apps.get_model("partners", "Lead")
    Deal = apps.get_model("deals", "Deal")
    ConflictCase = apps.get_model("deals", "ConflictCase")
    now = timezone.now()

    groups = defaultdict(list)  # the identity an account now has → its ids, oldest first
    changed = {}  # accounts whose keys changed → their keys before
    batch = []
    for account in Account.objects.order_by("pk").iterator(chunk_size=BATCH):
        old = (account.domain_key, account.name_key)
        keys = _keys(account)
        account.domain_key, account.name_key, account.domain_skeleton, account.name_skeleton = keys
        if keys[:2] != old:
            changed[account.pk] = old
        groups[("d", keys[0]) if keys[0] else ("n", keys[1])].append(account.pk)
        batch.append(account)
        if len(batch) >= BATCH:
            Account.objects.bulk_update(
                batch, ["domain_key", "name_key", "domain_skeleton", "name_skeleton"]
            )
            batch = []
    if batch:
        Account.objects.bulk_update(
            batch, ["domain_key", "name_key", "domain_skeleton", "name_skeleton"]
        )

    shared = {identity: ids for identity, ids in groups.items() if len(ids) > 1}
    for (kind, _key), ids in shared.items():
        # The account that already had this key keeps it (the old keys were unique too).
        ids = sorted(ids, key=lambda pk: (pk in changed, pk))
        accounts = {a.pk: a for a in Account.objects.filter(pk__in=ids)}
        survivor = accounts[ids[0]]
        open_deals = defaultdict(list)
        for deal in Deal.objects.filter(account_id__in=ids, status__in=OPEN).order_by(
            "submitted_at", "pk"
        ):
            open_deals[deal.account_id].append(deal)
        held = list(open_deals.get(survivor.pk, []))
        for pk in ids[1:]:
            account = accounts[pk]
            theirs = open_deals.get(pk, [])
            if held and theirs:
                _keep_apart(apps, account, changed[pk], survivor, held[0], theirs, kind, now)
                continue
            held += theirs
            Deal.objects.filter(account_id=pk).update(account_id=survivor.pk)
            Lead.objects.filter(account_id=pk).update(account_id=survivor.pk)
            ConflictCase.objects.filter(account_id=pk).update(account_id=survivor.pk)
            taken = []
            if not survivor.direct_rep and account.direct_rep:
                survivor.direct_rep = account.direct_rep
                taken.append("direct_rep")
            if survivor.owning_partner_id is None and account.owning_partner_id:
                survivor.owning_partner_id = account.owning_partner_id
                taken.append("owning_partner")
            if taken:
                Account.objects.filter(pk=survivor.pk).update(
                    direct_rep=survivor.direct_rep, owning_partner_id=survivor.owning_partner_id
                )
            account.merged_into_id = survivor.pk
            Account.objects.filter(pk=pk).update(merged_into_id=survivor.pk)
            _history(apps, account, f"Merged into #{survivor.pk}: the same customer", now)
            _history(apps, survivor, f"#{pk} {account.name} merged into it", now)

    from prm.normalize import normalize_company_name, normalize_domain

    batch = []
    for lead in Lead.objects.order_by("pk").iterator(chunk_size=BATCH):
        lead.name_key = normalize_company_name(lead.company_name)
        lead.domain_key = normalize_domain(lead.domain)
        batch.append(lead)
        if len(batch) >= BATCH:
            Lead.objects.bulk_update(batch, ["name_key", "domain_key"])
            batch = []
    if batch:
        Lead.objects.bulk_update(batch, ["name_key", "domain_key"])


def _keep_apart(apps, account, old_keys, survivor, earlier, theirs, kind, now) -> None:
    """Both hold open registrations: the later one keeps its old keys (so the two stay
    distinct accounts) and goes to a manager."""
    Account = apps.get_model("partners", "Account")
    ConflictCase = apps.get_model("deals", "ConflictCase")
    Deal = apps.get_model("deals", "Deal")
    account.domain_key, account.name_key = old_keys
    Account.objects.filter(pk=account.pk).update(domain_key=old_keys[0], name_key=old_keys[1])
    _history(apps, account, f"Same customer as #{survivor.pk}; left to a manager", now)
    for deal in theirs:
        first, later = sorted((earlier, deal), key=lambda d: (d.submitted_at, d.pk))
        if later.status == "pending":
            Deal.objects.filter(pk=later.pk).update(
                needs_review=True,
                review_reason="same_domain" if kind == "d" else "same_name",
                review_match_id=first.pk,
            )
        ConflictCase.objects.get_or_create(
            deal_id=later.pk,
            scenario="two_partners",
            defaults={
                "account_id": later.account_id,
                "partner_id": later.partner_id,
                "other_partner_id": first.partner_id,
                "other_deal_id": first.pk,
                "opened_at": now,
                "sla_due_at": now + timedelta(hours=24),
                "resolution": "",
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0010_review_and_survey_date"),
        ("partners", "0015_account_identity"),
    ]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
