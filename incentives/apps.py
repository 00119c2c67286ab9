from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "Incentives and MDF"

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the rules permissions)
