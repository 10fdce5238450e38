"""Deleting a photo or a colorization row deletes its files, once the deletion is committed.

Signals rather than a service function because rows also disappear through the admin
and through cascades (a deleted user takes their photos with them).
"""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from webapp.photos.models import Colorization, Photo

log = logging.getLogger(__name__)


def delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a file that is already gone, or a storage hiccup: never undo the deletion
            log.warning("could not delete %s", name, exc_info=True)


def delete_files_on_commit(*fields) -> None:
    names = [field.name for field in fields if field]
    if names:
        transaction.on_commit(lambda: delete_files(names))


@receiver(post_delete, sender=Photo, dispatch_uid="photos-delete-photo-files")
def delete_photo_files(sender, instance: Photo, **kwargs):
    delete_files_on_commit(instance.original, instance.thumbnail, instance.preview)


@receiver(post_delete, sender=Colorization, dispatch_uid="photos-delete-result-files")
def delete_result_files(sender, instance: Colorization, **kwargs):
    delete_files_on_commit(instance.result, instance.result_thumbnail, instance.result_preview)
