from django.apps import AppConfig


class PrmConfig(AppConfig):
    name = "prm"
    verbose_name = "PRM"

    def ready(self) -> None:
        from . import mfa  # noqa: F401  (connects its sign-in receivers)
        from .retention import register_shared_prunes

        register_shared_prunes()
