from tests.webapp.integration.conftest import shared_redis  # noqa: F401  (a real Redis for Celery and Channels)
