"""The Celery application. Tasks live in each app's ``tasks.py``."""

import os

from celery import Celery
from celery.signals import setup_logging, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings.local")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _logging_configure(loglevel=None, **kwargs) -> None:
    """The worker and beat log as the site does (settings.LOGGING: JSON lines in
    production, with the request id of the request that sent the task), rather than in
    Celery's own format; ``--loglevel`` still sets their level."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@worker_init.connect
def _metrics_serve(**kwargs) -> None:
    from django.conf import settings

    if settings.WORKER_METRICS_PORT:
        from prm.metrics import worker_metrics_serve

        worker_metrics_serve(settings.WORKER_METRICS_PORT)
