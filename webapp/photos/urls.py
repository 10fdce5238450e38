from django.urls import path, register_converter

from webapp.photos import sharing, views


class DownloadFormat:
    regex = "png|jpg"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DownloadFormat, "download_format")

app_name = "photos"

urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("photos/", views.gallery, name="gallery"),
    path("photos/download.zip", views.download_zip, name="download-zip"),
    path("photos/delete-selected", views.delete_selected, name="delete-selected"),
    path("albums/", views.albums, name="albums"),
    path("albums/add", views.album_add, name="album-add"),
    path("albums/<uuid:album_id>/", views.album, name="album"),
    path("albums/<uuid:album_id>/remove", views.album_remove, name="album-remove"),
    path("albums/<uuid:album_id>/rename", views.album_rename, name="album-rename"),
    path("albums/<uuid:album_id>/delete", views.album_delete, name="album-delete"),
    path("photos/<uuid:photo_id>/share", sharing.share_photo, name="share-photo"),
    path("albums/<uuid:album_id>/share", sharing.share_album, name="share-album"),
    path("shares/<uuid:link_id>/revoke", sharing.revoke, name="share-revoke"),
    path("photos/<uuid:photo_id>/", views.detail, name="detail"),
    path("photos/<uuid:photo_id>/original", views.original, name="original"),
    path("photos/<uuid:photo_id>/thumbnail.jpg", views.thumbnail, name="thumbnail"),
    path("photos/<uuid:photo_id>/preview.jpg", views.preview, name="preview"),
    path("photos/<uuid:photo_id>/rerun", views.rerun, name="rerun"),
    path("photos/<uuid:photo_id>/delete", views.delete, name="delete"),
    path("results/<uuid:colorization_id>/thumbnail.jpg", views.result_thumbnail, name="result-thumbnail"),
    path("results/<uuid:colorization_id>/preview.jpg", views.result_preview, name="result-preview"),
    path("results/<uuid:colorization_id>/download.<download_format:format>", views.download, name="download"),
]
