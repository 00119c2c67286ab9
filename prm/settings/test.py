"""The test suite: always PostgreSQL (DATABASE_URL, default the local server) and fast hashing."""

from .base import *  # noqa: F403
from .base import BROKER_VISIBILITY_TIMEOUT, MEDIA_STORAGE, STORAGES, env, metered

DEBUG = False
DATABASES = {
    "default": metered(
        env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/prm")
    )
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A worker started by a test (tests/workers.py) runs in a process of its own, which the
# test's outbox cannot see: given a directory, its mail is written to files there.
if env("TEST_EMAIL_FILE_PATH", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env("TEST_EMAIL_FILE_PATH")
# Under pytest-xdist each worker process (gw0, gw1, …) has a test database of its own
# (pytest-django) and a broker database of its own, so that the Celery workers its tests
# start never take another's tasks. (The worker processes inherit the variable.)
_XDIST = env("PYTEST_XDIST_WORKER", default="")
_BROKER_DB = 15 - int(_XDIST[2:]) if _XDIST[2:].isdigit() else 15
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=f"redis://127.0.0.1:6379/{_BROKER_DB}")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_ALWAYS_EAGER = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Uploaded files in memory, unless MEDIA_STORAGE=s3 runs the suite against a bucket.
STORAGES = {
    "default": STORAGES["default"]
    if MEDIA_STORAGE == "s3"
    else {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The webhook tests run their receiver on 127.0.0.1 over plain HTTP: allowed here, and
# only here and in development (tests/test_webhooks.py checks the production defaults).
WEBHOOKS_REQUIRE_HTTPS = False
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}

STATIC_ROOT = None  # static files come from static/ through the finders
WHITENOISE_USE_FINDERS = True
