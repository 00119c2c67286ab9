"""The customer's whole program as files, for data portability (``manage.py export_data``).

One CSV file and one JSON Lines file per model of the project's apps, and ``index.json``
listing the files, their row counts and each model's fields and types. Every row is read
in one transaction (REPEATABLE READ and READ ONLY on PostgreSQL: one consistent snapshot
of the whole program, and it works behind PgBouncer in transaction mode), streamed with
``.iterator()`` and written as it is read, so memory stays flat however large a table is.

Values: a foreign key is the id it points at (the column is named ``<field>_id``); dates
and times are ISO 8601 (times in UTC); decimals are strings in JSON, so no amount passes
through a float; a many-to-many relation is its own file (``deals.Deal_products``).
CSV cells go through ``prm.downloads``, so text a partner typed that starts with ``=``,
``+``, ``-`` or ``@`` is prefixed with ``'`` and a spreadsheet never runs it as a formula;
the JSON Lines file keeps the text exactly as stored.

The app stacks one way (``ARCHITECTURE.md``): this module imports none of the apps above
``prm``; it reads their models through Django's app registry.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from .downloads import csv_file

# The project's apps, lowest layer first (prm/settings/base.py).
PROJECT_APPS = ("prm", "partners", "enablement", "incentives", "deals", "scoring")
FORMATS = {
    "csv": "<model>.csv: CSV, UTF-8, a header line naming the columns",
    "json": "<model>.jsonl: JSON Lines, one JSON object a line (jq -s makes it an array)",
}
CHUNK_SIZE = 2000

# Models of the project's apps that are not exported, and why.
SKIPPED_MODELS = {
    "partners.ApiToken": "API tokens: each row holds a token's SHA-512 digest, a credential",
    "partners.User_groups": "Django permission groups of a login: site configuration "
    "(a person's role is exported with the user)",
    "partners.User_user_permissions": "Django permissions of a login: site configuration",
    "prm.FormPost": "anonymous form posts: keyed hashes of visitors' addresses, kept a day "
    "to throttle the public forms; not program data",
}
# Fields left out of models that are exported, and why.
SKIPPED_FIELDS = {
    "partners.User.password": "the password hash, a credential",
}
# Left out of one partner's export (--partner): keys to another partner's rows (a conflict
# case's other side, the registration a held one was matched with). A partner is never
# told who else holds a customer (RULEBOOK §4).
OTHER_PARTNERS_FIELDS = ("other_partner", "other_deal", "review_match")
# Tables of the other installed apps, none of them exported.
NOT_EXPORTED = {
    "sessions": "signed-in sessions: credentials",
    "allauth (mfa, account)": "two-factor secrets, recovery codes, e-mail confirmation keys",
    "axes": "failed sign-in attempts, for the lockout",
    "knox": "no table of its own (API tokens are partners.ApiToken, skipped)",
    "auth, contenttypes, admin": "Django's permissions, content types and the admin's log",
    "django_celery_beat": "the job schedule: site configuration",
}


def model_label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def exported_models() -> list[type[models.Model]]:
    """Every model of the project's apps with a table (many-to-many tables included),
    but those of ``SKIPPED_MODELS``, in the apps' order."""
    found = []
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            managed = model._meta.managed and not model._meta.proxy
            if managed and model_label(model) not in SKIPPED_MODELS:
                found.append(model)
    return found


def exported_fields(model: type[models.Model], *, one_partner: bool = False) -> list[models.Field]:
    label = model_label(model)
    return [
        f
        for f in model._meta.concrete_fields
        if f"{label}.{f.name}" not in SKIPPED_FIELDS
        and not (one_partner and f.name in OTHER_PARTNERS_FIELDS)
    ]


def field_schema(f: models.Field) -> dict:
    schema = {"name": f.attname, "type": f.get_internal_type(), "null": f.null}
    if f.is_relation and f.related_model is not None:
        schema["references"] = model_label(f.related_model)
    if getattr(f, "max_digits", None) is not None:
        schema["max_digits"], schema["decimal_places"] = f.max_digits, f.decimal_places
    if f.choices:
        schema["choices"] = [str(value) for value, _ in f.flatchoices]
    return schema


def plain(value) -> Any:
    """A value as JSON holds it: ISO 8601 dates and times (UTC), decimals as strings."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    return value


def csv_value(value) -> Any:
    """A value as a CSV cell: as in JSON, but numbers stay numbers (``prm.downloads``
    quotes only text), booleans are ``true``/``false`` and nested JSON is its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float) or value is None:
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return plain(value)


# ---------------------------------------------------------------- one partner's data


def _partner_model():
    return apps.get_model("partners", "Partner")


def partner_filter(model: type[models.Model], partner_id: int) -> models.Q | None:
    """The rows of ``model`` that belong to one partner, or None when the model holds no
    partner's data (program-wide settings, customer accounts several partners share).

    A row belongs to the partner when its ``partner`` (or its only key to a partner)
    points at it, directly or through one key (a proof through its claim); people are the
    users the partner has."""
    partner = _partner_model()
    if model is partner or getattr(model, "instance_type", None) is partner:
        return models.Q(id=partner_id)  # the partner, and its history
    if model is get_user_model():
        return models.Q(membership__partner_id=partner_id)

    def to_partner(m) -> str | None:
        keys = [f for f in m._meta.concrete_fields if f.is_relation and f.related_model is partner]
        named = [f for f in keys if f.name == "partner"]
        if named or len(keys) == 1:
            return (named or keys)[0].name
        return None

    direct = to_partner(model)
    if direct:
        return models.Q(**{f"{direct}_id": partner_id})
    for f in model._meta.concrete_fields:
        if f.is_relation and f.many_to_one and f.related_model is not None:
            through = to_partner(f.related_model)
            if through and f.related_model is not partner:
                return models.Q(**{f"{f.name}__{through}_id": partner_id})
    return None


# ---------------------------------------------------------------- the export


@dataclass
class ExportedModel:
    label: str
    table: str
    rows: int = 0
    files: dict = field(default_factory=dict)
    fields: list = field(default_factory=list)


def _rows(model, fields, partner_id) -> Iterator[tuple]:
    queryset = model._default_manager.all()
    if partner_id is not None:
        condition = partner_filter(model, partner_id)
        queryset = queryset.filter(condition).distinct()
    return (
        queryset.order_by("pk")
        .values_list(*[f.attname for f in fields])
        .iterator(chunk_size=CHUNK_SIZE)
    )


def export_model(model, folder: Path, formats, partner_id=None) -> ExportedModel:
    """One model's rows into ``<label>.csv`` and ``<label>.jsonl``, in one pass."""
    label = model_label(model)
    fields = exported_fields(model, one_partner=partner_id is not None)
    columns = [f.attname for f in fields]
    done = ExportedModel(label=label, table=model._meta.db_table)
    done.fields = [field_schema(f) for f in fields]
    with ExitStack() as files:
        write_csv: Callable | None = None
        json_stream = None
        if "csv" in formats:
            done.files["csv"] = f"{label}.csv"
            stream = files.enter_context(
                (folder / done.files["csv"]).open("w", newline="", encoding="utf-8")
            )
            write_csv = csv_file(stream, columns)
        if "json" in formats:
            done.files["json"] = f"{label}.jsonl"
            json_stream = files.enter_context(
                (folder / done.files["json"]).open("w", encoding="utf-8")
            )
        for row in _rows(model, fields, partner_id):
            if write_csv:
                write_csv([csv_value(value) for value in row])
            if json_stream:
                record = {name: plain(value) for name, value in zip(columns, row, strict=True)}
                json_stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            done.rows += 1
    return done


def export_data(
    folder: Path, *, formats=tuple(FORMATS), partner_id: int | None = None, progress=None
) -> dict:
    """Write every exported model of the project's apps into ``folder`` (created if need
    be), then ``index.json``; returns the index. ``partner_id`` limits the export to that
    partner's data (see ``partner_filter``).

    The reads run in one transaction; when this is the outermost one on PostgreSQL, it is
    REPEATABLE READ and READ ONLY, so every file shows the same moment."""
    folder.mkdir(parents=True, exist_ok=True)
    started = timezone.now()
    exported, left_out = [], {}
    with transaction.atomic():
        # Only the transaction's first statement may set its isolation; inside a caller's
        # transaction (a test's) the export reads in that one.
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for model in exported_models():
            if partner_id is not None and partner_filter(model, partner_id) is None:
                left_out[model_label(model)] = "holds no partner's own data"
                continue
            done = export_model(model, folder, formats, partner_id)
            exported.append(done)
            if progress:
                progress(done)
    index = {
        "created_at": plain(started),
        "partner": partner_id,
        "formats": {name: FORMATS[name] for name in formats},
        "conventions": {
            "foreign keys": "the id of the row pointed at, in a column <field>_id",
            "dates and times": "ISO 8601; times in UTC",
            "decimals": "strings in JSON, numbers in CSV",
            "csv text": "a cell starting with = + - @ or a tab or line break is prefixed "
            "with ' (a spreadsheet shows it as text); the JSON keeps the text as stored",
        },
        "models": [
            {
                "model": done.label,
                "table": done.table,
                "rows": done.rows,
                "files": done.files,
                "fields": done.fields,
            }
            for done in exported
        ],
        "skipped_models": SKIPPED_MODELS,
        "skipped_fields": SKIPPED_FIELDS,
        "not_exported": NOT_EXPORTED,
    }
    if partner_id is not None:
        index["not_about_one_partner"] = left_out
        index["withheld_from_one_partner"] = list(OTHER_PARTNERS_FIELDS)
    (folder / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return index
