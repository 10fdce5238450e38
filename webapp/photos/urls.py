from django.urls import path, register_converter

from webapp.photos import sharing
from webapp.photos.views import albums, files, gallery, photo, upload


class DownloadFormat:
    regex = "png|jpg"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DownloadFormat, "download_format")

app_name = "photos"

urlpatterns = [
    path("upload/", upload.upload, name="upload"),
    path("photos/", gallery.gallery, name="gallery"),
    path("photos/download.zip", gallery.download_zip, name="download-zip"),
    path("photos/delete-selected", gallery.delete_selected, name="delete-selected"),
    path("albums/", albums.albums, name="albums"),
    path("albums/add", albums.album_add, name="album-add"),
    path("albums/<uuid:album_id>/", albums.album, name="album"),
    path("albums/<uuid:album_id>/remove", albums.album_remove, name="album-remove"),
    path("albums/<uuid:album_id>/rename", albums.album_rename, name="album-rename"),
    path("albums/<uuid:album_id>/delete", albums.album_delete, name="album-delete"),
    path("photos/<uuid:photo_id>/share", sharing.share_photo, name="share-photo"),
    path("albums/<uuid:album_id>/share", sharing.share_album, name="share-album"),
    path("shares/<uuid:link_id>/revoke", sharing.revoke, name="share-revoke"),
    path("photos/<uuid:photo_id>/", photo.detail, name="detail"),
    path("photos/<uuid:photo_id>/original", files.original, name="original"),
    path("photos/<uuid:photo_id>/thumbnail.jpg", files.thumbnail, name="thumbnail"),
    path("photos/<uuid:photo_id>/preview.jpg", files.preview, name="preview"),
    path("photos/<uuid:photo_id>/rerun", photo.rerun, name="rerun"),
    path("photos/<uuid:photo_id>/delete", photo.delete, name="delete"),
    path("results/<uuid:colorization_id>/thumbnail.jpg", files.result_thumbnail, name="result-thumbnail"),
    path("results/<uuid:colorization_id>/preview.jpg", files.result_preview, name="result-preview"),
    path("results/<uuid:colorization_id>/download.<download_format:format>", files.download, name="download"),
]
