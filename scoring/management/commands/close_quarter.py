from django.core.management.base import BaseCommand, CommandError

from scoring.services.close import BATCH_SIZE, CloseInProgress, CloseRefused, quarter_close


class Command(BaseCommand):
    help = "Close a quarter now (scores, tier moves, red flags), as the scheduled job does."

    def add_arguments(self, parser) -> None:
        parser.add_argument("quarter", help="e.g. 2026Q3")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, quarter: str, batch_size: int, **options) -> None:
        try:
            close = quarter_close(quarter=quarter.upper(), batch_size=batch_size)
        except (CloseRefused, CloseInProgress, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Closed {close.quarter}: {close.partners_total} partners scored, "
                f"{close.tier_changes} tier change(s), {close.flags_opened} new red flag(s) "
                f"in {close.timings.get('total_s')} s."
            )
        )
