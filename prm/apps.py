from django.apps import AppConfig
from django.core.signals import request_finished


class PrmConfig(AppConfig):
    name = "prm"
    verbose_name = "PRM"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from . import logs, metrics, mfa  # noqa: F401  (connect their receivers)
        from .audit import fit_change_reason
        from .retention import register_shared_prunes

        request_finished.connect(logs.context_clear, dispatch_uid="prm.logs.context_clear")
        pre_create_historical_record.connect(fit_change_reason, dispatch_uid="fit_change_reason")
        register_shared_prunes()
