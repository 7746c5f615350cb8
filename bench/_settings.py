"""Settings for the benchmarks: the test settings (which are the real settings minus TLS and
hashed static files) with the bench URLconf (the product's URLs plus the ceiling views)."""

from config.test_settings import *  # noqa: F403

ROOT_URLCONF = "_urls"
DEBUG = False

# The product's default rate limit (the test settings switch it off): every benchmark runs with
# the defaults, and sets ``options["rate_limit"] = 0`` on an account for its no-limit variant.
from config.settings import PROVIDER_DEFAULT_RATE_LIMIT  # noqa: E402,F401
