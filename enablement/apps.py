from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "enablement"
    verbose_name = "Enablement"

    def ready(self) -> None:
        from . import permissions  # noqa: F401  (registers the rules permissions)
