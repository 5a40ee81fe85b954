import time
import zlib
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], *, timeout: float = 20, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def address_with_a_fresh_window(period: int = 60, margin: int = 50, network: int = 10) -> str:
    """A new client address whose fixed rate-limit window has at least ``margin`` seconds
    left, so 121 requests cannot straddle two windows. django-ratelimit offsets each key's
    window by crc32(key) % period."""
    for n in range(1000):
        address = f"{network}.{time.time_ns() % 250}.{n % 250}.{n // 250 + 1}"
        now = int(time.time())
        end = now - now % period + zlib.crc32(address.encode()) % period
        if end < now:
            end += period
        if end - time.time() > margin:
            return address
    raise AssertionError("no address with a fresh window")
