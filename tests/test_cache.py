"""The Redis cache (prm.cache): fails open while Redis is down, keeps one client per
connection pool while it is up, and counts its reads for /metrics."""

import secrets

import pytest
from django.conf import settings

from prm.cache import METRICS_BACKEND, ResilientRedisCache

OPTIONS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}


def test_every_call_fails_open_when_redis_is_down():
    down = ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": OPTIONS})
    assert down.get("k", "default") == "default"
    assert down.get_many(["a", "b"]) == {}
    assert down.set("k", 1) is None
    assert down.add("k", 1) is True
    assert down.has_key("k") is False
    assert down.incr("k") == 1
    assert down.set_many({"a": 1}) == ["a"]
    assert down.delete("k") is False


@pytest.fixture
def redis_cache():
    cache = ResilientRedisCache(
        settings.CELERY_BROKER_URL,
        {"OPTIONS": OPTIONS, "KEY_PREFIX": f"test-cache-{secrets.token_hex(4)}"},
    )
    yield cache
    cache.delete_many(["a", "b", "c"])


def test_one_client_per_pool_and_values_round_trip(redis_cache):
    redis_cache.set_many({"a": {"html": "x" * 20_000}, "b": 2})
    assert redis_cache.get_many(["a", "b", "c"]) == {"a": {"html": "x" * 20_000}, "b": 2}
    client = redis_cache._cache.get_client(write=False)
    assert redis_cache._cache.get_client(write=True) is client
    assert redis_cache.get("b") == 2


def _reads() -> dict[str, float]:
    from django_prometheus.cache import metrics

    return {
        name: counter.labels(backend=METRICS_BACKEND)._value.get()
        for name, counter in [
            ("total", metrics.django_cache_get_total),
            ("hits", metrics.django_cache_hits_total),
            ("misses", metrics.django_cache_misses_total),
            ("failed", metrics.django_cache_get_fail_total),
        ]
    }


def _since(before: dict[str, float]) -> dict[str, float]:
    return {name: count - before[name] for name, count in _reads().items()}


def test_reads_are_counted_as_hits_and_misses(redis_cache):
    redis_cache.set("a", 1)
    redis_cache.set("b", None)  # a stored None is a hit, not a miss
    before = _reads()
    assert redis_cache.get("a") == 1
    assert redis_cache.get("b", "default") is None
    assert redis_cache.get("c", "default") == "default"
    assert _since(before) == {"total": 3, "hits": 2, "misses": 1, "failed": 0}


def test_reads_while_redis_is_down_are_counted_as_failed():
    down = ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": OPTIONS})
    before = _reads()
    assert down.get("k", "default") == "default"
    assert _since(before) == {"total": 1, "hits": 0, "misses": 0, "failed": 1}
