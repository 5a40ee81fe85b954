"""Test settings: real PostgreSQL and Redis, tasks eager unless a test starts a real worker."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack")
# Each pytest-xdist worker gets its own Redis database so real Celery workers started
# by parallel tests never take each other's messages; TEST_REDIS_DB moves the first one,
# so two checkouts can run their suites side by side.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_redis_db = (int(os.environ.get("TEST_REDIS_DB", "1")) + int(_worker.removeprefix("gw") or 0)) % 16
os.environ["REDIS_URL"] = (
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379") + f"/{_redis_db}"
)

from config.settings import *  # noqa: E402,F403

CELERY_TASK_ALWAYS_EAGER = True  # tests that need a real worker switch this off
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
CACHES["default"]["KEY_PREFIX"] = f"tack-test-{_worker}"
TACK_PUBLIC_BASE_URL = "http://testserver"
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Worker threads in tests must not keep connections open past a task.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Every test client comes from 127.0.0.1; the rate-limit test switches this back on.
RATELIMIT_ENABLE = False
# The webhook receivers of the tests listen on 127.0.0.1 over plain http; the outbound
# guard's own tests switch both off again.
TACK_OUTBOUND_ALLOW_HTTP = True
TACK_OUTBOUND_ALLOWED_ADDRESSES = ["127.0.0.1"]
