"""Development: `make run` uses these. DEBUG is off, as in production, so that the demo
shows the site's own error pages (templates/errors/); DJANGO_DEBUG=1 (or DEBUG=1) turns
Django's technical pages on for working on the code."""

from .base import *  # noqa: F403
from .base import STORAGES, env

DEBUG = env.bool("DJANGO_DEBUG", default=env.bool("DEBUG", default=False))
# A receiver on this machine, over plain HTTP, for trying webhooks out (base.py): allowed
# in development whatever DEBUG says.
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=False)
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=True)

# gunicorn serves the static files straight from static/ in development (no collectstatic),
# with DEBUG on or off: WhiteNoise finds them through the finders (read at start, or at
# each request with DEBUG on, so that an edited file shows without a restart).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded files: wherever MEDIA_STORAGE says (base.py).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_ROOT = None
