from django.apps import AppConfig


class PrmConfig(AppConfig):
    name = "prm"
    verbose_name = "PRM"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from . import mfa  # noqa: F401  (connects its sign-in receivers)
        from .audit import fit_change_reason

        pre_create_historical_record.connect(fit_change_reason, dispatch_uid="fit_change_reason")
