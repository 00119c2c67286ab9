from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from enablement.services import relationship_defaults_install
from partners.presets import PRESETS
from partners.services import program_install


class Command(BaseCommand):
    help = (
        "Install or refresh a program preset (RULEBOOK §1): seed001 (default) or seed002, "
        "with its onboarding curriculum and co-marketing playbook (§10)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("preset", choices=sorted(PRESETS))
        parser.add_argument(
            "--default", action="store_true", help="Make it the default program for new partners."
        )

    def handle(self, *args, preset: str, default: bool, **options) -> None:
        try:
            program = program_install(preset=preset, make_default=default)
            relationship_defaults_install(program)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        tiers = ", ".join(f"{t.slug} ({t.rank})" for t in program.tiers.order_by("rank"))
        flag = " (default)" if program.is_default else ""
        self.stdout.write(self.style.SUCCESS(f"Installed {program.name}{flag}: {tiers}"))
