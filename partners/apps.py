from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and programs"

    def ready(self) -> None:
        from prm import retention

        from . import permissions  # noqa: F401  (registers the rules permissions)
        from .services import notices_prune

        retention.register("read notices", notices_prune)
