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
        from .crm.services import crm_events_record
        from .services import (
            deliverer_register,
            events_prune,
            webhook_deliveries_prune,
            webhooks_deliver,
        )

        deliverer_register("webhooks", webhooks_deliver)
        retention.register("delivered events", events_prune)
        retention.register("webhook delivery log", webhook_deliveries_prune)
        deliverer_register("crm", crm_events_record)
