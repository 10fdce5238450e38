from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webapp.core import health

# Parts of a check that can name hosts, users or databases (driver errors, worker host
# names): shown only with DEBUG on or to staff. A probe needs no more than each check's ok.
PRIVATE_FIELDS = ("error", "workers")


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on every site (admin pages included): send them to the icon."""
    response = redirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


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
    checks = {"database": database, "redis": redis, "workers": workers, "model": model}
    if not shows_details(request):
        checks = {name: {k: v for k, v in check.items() if k not in PRIVATE_FIELDS} for name, check in checks.items()}
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def shows_details(request) -> bool:
    """DEBUG is on, or the caller is signed-in staff.

    HealthCheckMiddleware answers before the session and authentication middleware run,
    so the session is read here. A request without a session cookie costs no query; when
    the session cannot be read (the database is down) the caller counts as anonymous.
    """
    if settings.DEBUG:
        return True
    user = getattr(request, "user", None)
    if user is None:
        engine = import_module(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        try:
            user = auth.get_user(request)
        except Exception:  # any failure to read the session: the safe answer is "anonymous"
            return False
    return user.is_active and user.is_staff
