"""Settings of the bench's alternative app (gunicorn + WhiteNoise): ours, plus WhiteNoise serving
static files the way its documentation recommends (middleware right after SecurityMiddleware,
compressed and hashed files). Copied into the bench image only."""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE, STORAGES

MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
