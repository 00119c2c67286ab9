"""``manage.py export_data``: the whole program as CSV and JSON Lines files (prm.data_export)."""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from prm.data_export import FORMATS, NOT_EXPORTED, SKIPPED_FIELDS, SKIPPED_MODELS, export_data


def _skips() -> str:
    models = "; ".join(f"{label} ({why})" for label, why in SKIPPED_MODELS.items())
    fields = "; ".join(f"{label} ({why})" for label, why in SKIPPED_FIELDS.items())
    others = "; ".join(f"{apps} ({why})" for apps, why in NOT_EXPORTED.items())
    return f"Not exported: models {models}. Fields {fields}. Other apps' tables: {others}."


class Command(BaseCommand):
    help = (
        "Export the program's data for portability: one CSV and one JSON Lines file per "
        "model of the project's apps (partners, enablement, deals, incentives, scoring, prm), "
        "and index.json with each file's row count and each model's fields and types. "
        "All rows are read in one consistent snapshot. Foreign keys are ids, dates ISO 8601, "
        "decimals strings in JSON; CSV text that a spreadsheet would run as a formula is "
        "prefixed with '. Credentials are never exported. " + _skips()
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--output",
            default=None,
            help="the folder to write (default var/exports/<UTC timestamp>); must be new or empty",
        )
        parser.add_argument(
            "--format",
            default=",".join(FORMATS),
            help="csv, json or csv,json (default): json writes JSON Lines, one object a line",
        )
        parser.add_argument(
            "--partner", type=int, default=None, help="export only this partner's data (its id)"
        )

    def handle(self, *args, output, format, partner, verbosity, **options) -> None:
        formats = [name.strip() for name in format.split(",") if name.strip()]
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown or not formats:
            raise CommandError(f"--format takes csv, json or csv,json, not {format!r}.")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        folder = Path(output) if output else Path(settings.BASE_DIR) / "var" / "exports" / stamp
        if folder.exists() and any(folder.iterdir()):
            raise CommandError(f"{folder} is not empty: an export is written to a new folder.")
        partners = apps.get_model("partners", "Partner").objects
        if partner is not None and not partners.filter(pk=partner).exists():
            raise CommandError(f"There is no partner {partner}.")

        def progress(done):
            if verbosity >= 2:
                self.stdout.write(f"{done.label}: {done.rows} rows")

        index = export_data(folder, formats=formats, partner_id=partner, progress=progress)
        rows = sum(model["rows"] for model in index["models"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {len(index['models'])} models, {rows} rows, into {folder} "
                "(index.json lists the files)."
            )
        )
