from django.urls import path

from webapp.finetune.consumers import FineTuneJobConsumer

websocket_urlpatterns = [
    path("ws/admin/finetune/<uuid:job_id>/", FineTuneJobConsumer.as_asgi()),
]
