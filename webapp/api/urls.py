from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from webapp.api import views


class ResultFormat:
    regex = "png|jpg"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ResultFormat, "result_format")

app_name = "api"

urlpatterns = [
    path("photos/", views.PhotoList.as_view(), name="photo-list"),
    path("photos/<uuid:photo_id>/", views.PhotoDetail.as_view(), name="photo-detail"),
    path("photos/<uuid:photo_id>/colorizations/", views.ColorizationCreate.as_view(), name="photo-colorize"),
    path("colorizations/", views.ColorizationList.as_view(), name="colorization-list"),
    path("colorizations/<uuid:colorization_id>/", views.ColorizationDetail.as_view(), name="colorization-detail"),
    path("colorizations/<uuid:colorization_id>/result.<result_format:extension>", views.ColorizationResult.as_view(),
         name="colorization-result"),
    path("models/", views.ModelList.as_view(), name="models"),
    path("account/", views.Account.as_view(), name="account"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
