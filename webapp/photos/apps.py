from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "webapp.photos"
    label = "photos"

    def ready(self):
        from webapp.photos import signals  # noqa: F401  (deleting rows deletes their files)
