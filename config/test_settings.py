"""Settings for the test suite: the real settings, minus what only slows tests down."""

from .settings import *  # noqa: F403
from .settings import env

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SANDBOX_ENABLED = True
PUBLIC_BASE_URL = ""  # links are built from the test request, whatever the environment says
FIELD_ENCRYPTION_KEY = ["DbLfUze-fcwTpWjolk5DeAKxxbiVS4csIn7AHsFhgY0="]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}  # type: ignore[no-redef]
# The shared per-account limiter stays out of the way of the suite; its own tests set rates.
PROVIDER_DEFAULT_RATE_LIMIT = 0
