from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webapp.core import health


def home(request):
    """Signed-in people land on their gallery (or the upload page before their first photo)."""
    if request.user.is_authenticated:
        return redirect("photos:gallery" if request.user.photos.exists() else "photos:upload")
    return render(request, "core/home.html")


@never_cache
@require_GET
def healthz(request):
    """Readiness of the app: 200 when the database and Redis answer, 503 otherwise.

    Workers and the active model are reported too; they do not fail the probe, since
    the web tier keeps serving galleries and accepting uploads (queued) without them.
    """
    database = health.check_database()
    redis = health.check_redis()
    workers = health.check_workers() if redis["ok"] else {"ok": False, "error": "redis is down", "queues": {}}
    model = health.check_model() if database["ok"] else {"ok": False, "error": "database is down"}
    healthy = database["ok"] and redis["ok"]
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "redis": redis,
        "workers": workers,
        "model": model,
    }
    return JsonResponse(body, status=200 if healthy else 503)
