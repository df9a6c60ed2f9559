"""The rate limits: one atomic round trip per check, exact under concurrency, and open
(counted, logged) while Redis is down; the cache keeps one Redis client per pool."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from prometheus_client import REGISTRY

from core.throttling import ClientIpRateThrottle, CustomerRateThrottle, parse_rate


@pytest.fixture
def rate(throttle_rates):
    return throttle_rates(customer="5/min", client_ip="5/min")


def _request(address: str):
    return RequestFactory().get("/api/v1/tokens", REMOTE_ADDR=address)


def test_concurrent_requests_never_pass_more_than_the_limit(rate):
    # Ten bursts of 40 requests released together, each burst from a fresh address:
    # a read-modify-write counter lets some burst through over the limit.
    passed_per_burst = []
    for burst in range(10):
        results: list[bool] = []
        lock = threading.Lock()
        start = threading.Barrier(40)

        def call(address=f"10.7.1.{burst}"):
            start.wait()
            allowed = ClientIpRateThrottle().allow_request(_request(address), None)
            with lock:
                results.append(allowed)

        threads = [threading.Thread(target=call) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == 40
        passed_per_burst.append(results.count(True))
    assert passed_per_burst == [5] * 10


def test_a_refused_request_is_told_when_its_window_ends(rate):
    throttle = ClientIpRateThrottle()
    assert all(throttle.allow_request(_request("10.7.0.2"), None) for _ in range(5))
    assert throttle.allow_request(_request("10.7.0.2"), None) is False
    assert 0 < throttle.wait() <= 60
    assert ClientIpRateThrottle().allow_request(_request("10.7.0.3"), None) is True


def test_a_request_without_a_customer_is_not_counted_per_customer(rate):
    request = _request("10.7.0.4")
    request.user = None
    assert all(CustomerRateThrottle().allow_request(request, None) for _ in range(10))


def test_while_redis_is_down_the_limit_fails_open_and_is_counted(rate, caplog):
    from django.test import override_settings

    before = REGISTRY.get_sample_value("api_throttle_backend_errors_total",
                                       {"scope": "client_ip"}) or 0
    dead = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    with override_settings(CACHES=dead):
        allowed = [ClientIpRateThrottle().allow_request(_request("10.7.0.5"), None)
                   for _ in range(7)]
    assert allowed == [True] * 7
    after = REGISTRY.get_sample_value("api_throttle_backend_errors_total",
                                      {"scope": "client_ip"})
    assert after - before == 7
    assert "rate limit store unavailable" in caplog.text


def test_the_cache_keeps_one_redis_client_per_pool():
    first = cache.client.get_client(write=True)
    assert cache.client.get_client(write=True) is first


@pytest.mark.parametrize("text,expected", [("120/min", (120, 60)), ("5/s", (5, 1)),
                                           ("10/hour", (10, 3600)), ("1/day", (1, 86400))])
def test_rates_read_as_drf_writes_them(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "120", "x/min", "5/fortnight"])
def test_a_malformed_rate_is_a_configuration_error(text):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)
