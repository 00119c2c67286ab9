"""The Redis cache (prm.cache): fails open while Redis is down, and keeps one client per
connection pool while it is up."""

import secrets

import pytest
from django.conf import settings

from prm.cache import ResilientRedisCache

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
