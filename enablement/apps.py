from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "enablement"
    verbose_name = "Enablement"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from prm import retention

        from . import permissions  # noqa: F401  (registers the rules permissions)
        from .services import login_days_roll_up

        retention.register("login days rolled up", login_days_roll_up)
        from .signals import record_login_day

        user_logged_in.connect(record_login_day, dispatch_uid="enablement.login_day")
