from django.apps import AppConfig
from django.core.signals import request_finished


class PrmConfig(AppConfig):
    name = "prm"
    verbose_name = "PRM"

    def ready(self) -> None:
        from . import logs, metrics, mfa  # noqa: F401  (connect their receivers)

        request_finished.connect(logs.context_clear, dispatch_uid="prm.logs.context_clear")
