from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and programs"

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the rules permissions)
