from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring and dashboards"

    def ready(self) -> None:
        from prm.metrics import scrape_collector_register

        from . import permissions  # noqa: F401  (registers the rules permissions)
        from .metrics import BusinessCollector

        # The business figures on /metrics: prm serves them but may not read the apps.
        scrape_collector_register(BusinessCollector())
