from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = "Deal registration"

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the rules permissions)
