from django.contrib import admin
from django.urls import include, path

from webapp.api import pages as api_pages
from webapp.photos import sharing

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("webapp.accounts.urls")),
    path("api/v1/", include("webapp.api.urls")),
    path("account/api-tokens/", api_pages.tokens, name="api-tokens"),
    path("account/api-tokens/<uuid:token_id>/revoke", api_pages.revoke, name="api-token-revoke"),
    # Share links: outside the photos app's namespace, with nothing in the path but the token.
    path("s/<str:token>/", sharing.shared, name="share"),
    path("s/<str:token>/<uuid:photo_id>/", sharing.shared, name="share-photo-page"),
    path("s/<str:token>/<uuid:photo_id>/<str:kind>.jpg", sharing.shared_image, name="share-image"),
    path("s/<str:token>/<uuid:photo_id>/download.png", sharing.shared_download, name="share-download"),
    path("", include("webapp.photos.urls")),
    path("", include("webapp.core.urls")),
]
