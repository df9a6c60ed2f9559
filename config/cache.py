"""Django's Redis cache, keeping one redis.Redis client per connection pool.

Django's RedisCacheClient.get_client() builds a new redis.Redis for every cache call,
and redis-py's constructor copies its response callbacks into a case-insensitive dict
each time (~46 us here). Two throttles, a get and a set each, made that four times per
request. A redis.Redis is thread-safe and bound to its pool, so one per pool does.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
