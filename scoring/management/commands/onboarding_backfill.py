from django.core.management.base import BaseCommand

from scoring.services.onboarding import onboarding_plans_backfill


class Command(BaseCommand):
    help = (
        "Create the onboarding plans missing for partners that started before plans were "
        "kept, with the steps their data already proves completed. Safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the partners; change nothing."
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        result = onboarding_plans_backfill(dry_run=dry_run)
        if dry_run:
            for partner in result.partners:
                self.stdout.write(f"{partner.pk}\t{partner.name}\tstarted {partner.started_on}")
            self.stdout.write(f"{len(result.partners)} partner(s) have no onboarding plan.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.partners)} onboarding plan(s) created: "
                f"{result.steps_created} step(s), {result.steps_completed} already done."
            )
        )
