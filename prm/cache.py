"""The Redis cache, failing open: while Redis is down a read is a miss and a write is
dropped, so pages keep working (a little slower; login rate limits count nothing and
refuse nothing until Redis is back). Connecting and reading time out after a fraction of a second
(``OPTIONS`` in settings), so a dead Redis does not hold up a request."""

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
# django-prometheus's cache metrics, under its label for Django's own Redis backend. Its
# backend class for that cannot be this class's base: the module holding it imports
# django-redis, which the project does not use. So ``get`` counts here instead.
METRICS_BACKEND = "native_redis"
_MISSING = object()


def _fail_open(name: str, fallback):
    def method(self, *args, **kwargs):
        try:
            return getattr(super(ResilientRedisCache, self), name)(*args, **kwargs)
        except UNAVAILABLE as exc:
            logger.warning("Cache unavailable (%s): %s", name, exc)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    method.__name__ = name
    return method


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client builds a new redis-py client object for every cache call, and
    building one (its tables of reply parsers) costs about as much as a round trip to
    Redis on loopback. One client per connection pool instead: redis-py clients are
    thread-safe, and each call still takes a connection from the pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False) -> Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    # ``add`` answers "stored": a lock taken through the cache (allauth's rate limits take
    # one) is granted rather than refused while Redis is down.
    add = _fail_open("add", True)

    def get(self, key, default=None, version=None) -> Any:
        """Counted for /metrics: every read, and whether it hit, missed or failed."""
        django_cache_get_total.labels(backend=METRICS_BACKEND).inc()
        try:
            value = super().get(key, _MISSING, version)
        except UNAVAILABLE as exc:
            django_cache_get_fail_total.labels(backend=METRICS_BACKEND).inc()
            logger.warning("Cache unavailable (get): %s", exc)
            return default
        if value is _MISSING:
            django_cache_misses_total.labels(backend=METRICS_BACKEND).inc()
            return default
        django_cache_hits_total.labels(backend=METRICS_BACKEND).inc()
        return value

    set = _fail_open("set", None)
    touch = _fail_open("touch", False)
    delete = _fail_open("delete", False)
    get_many = _fail_open("get_many", lambda keys, version=None: {})
    has_key = _fail_open("has_key", False)
    incr = _fail_open("incr", lambda key, delta=1, version=None: delta)
    set_many = _fail_open("set_many", lambda data, *args, **kwargs: list(data))
    delete_many = _fail_open("delete_many", None)
    clear = _fail_open("clear", None)
