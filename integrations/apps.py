from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from prm import retention

        from . import (
            permissions,  # noqa: F401  (registers the rules permissions)
            receivers,  # noqa: F401  (partners' signals become events)
        )
        from .services import events_prune

        retention.register("delivered events", events_prune)
