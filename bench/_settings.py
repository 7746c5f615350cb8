"""Settings for the benchmarks: the test settings (which are the real settings minus TLS and
hashed static files) with the bench URLconf (the product's URLs plus the ceiling views)."""

from config.test_settings import *  # noqa: F403

ROOT_URLCONF = "_urls"
DEBUG = False
