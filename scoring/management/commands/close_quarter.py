from django.core.management.base import BaseCommand, CommandError

from scoring import services


class Command(BaseCommand):
    help = "Close a quarter now (scores, tier moves, red flags), as the scheduled job does."

    def add_arguments(self, parser):
        parser.add_argument("quarter", help="e.g. 2026Q3")
        parser.add_argument("--batch-size", type=int, default=services.BATCH_SIZE)

    def handle(self, *args, quarter: str, batch_size: int, **options):
        try:
            close = services.quarter_close(quarter=quarter.upper(), batch_size=batch_size)
        except (services.CloseRefused, services.CloseInProgress, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Closed {close.quarter}: {close.partners_total} partners scored, "
                f"{close.tier_changes} tier change(s), {close.flags_opened} new red flag(s) "
                f"in {close.timings.get('total_s')} s."
            )
        )
