from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webapp.api"
    label = "api"
    verbose_name = "HTTP API"

    def ready(self):
        from webapp.api import callbacks, schema  # noqa: F401  (schema: registers its extensions)
        from webapp.photos import events

        # A finished colorization sends the callbacks that wait for it (webapp.api.callbacks).
        events.job_state_changed.connect(callbacks.job_changed, dispatch_uid="api-callbacks-on-job-change")
