from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed


class PhotosConfig(AppConfig):
    name = "webapp.photos"
    label = "photos"

    def ready(self):
        from webapp.photos import images
        from webapp.photos import signals  # noqa: F401  (deleting rows deletes their files)

        # Every process that sets Django up (web servers and Celery workers) gets Pillow's guard raised to the limit.
        images.follow_pixel_limit(settings.UPLOAD_MAX_PIXELS)
        setting_changed.connect(follow_changed_pixel_limit, dispatch_uid="photos-follow-pixel-limit")


def follow_changed_pixel_limit(setting, **kwargs):
    """Keep Pillow's guard with the limit when it is overridden (tests, override_settings)."""
    if setting == "UPLOAD_MAX_PIXELS":
        from webapp.photos import images

        images.follow_pixel_limit(settings.UPLOAD_MAX_PIXELS)
