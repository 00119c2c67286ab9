from django.core.management.base import BaseCommand

from prm import retention


class Command(BaseCommand):
    help = (
        "Delete (or roll up) the records past their retention, kind by kind, as the nightly "
        "job does; --dry-run only counts them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; change nothing."
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        counts = retention.prune_all(dry_run=dry_run)
        verb = "would go" if dry_run else "pruned"
        width = max(map(len, counts), default=0)
        for kind, count in counts.items():
            self.stdout.write(f"{kind:<{width}}  {count:>9,} {verb}")
        total = sum(counts.values())
        summary = f"{total:,} record(s) {verb}" + (" (dry run: nothing changed)" if dry_run else "")
        self.stdout.write(self.style.SUCCESS(summary))
