"""The account page where people create, name and revoke their API tokens (signed in with a session)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from webapp.api import callbacks
from webapp.api.models import ApiToken

MAX_LIVE_TOKENS = 20


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """List the user's tokens; a POST makes a new one and shows its key and callback secret, once."""
    created = None
    status = 200
    if request.method == "POST":
        name = " ".join(request.POST.get("name", "").split())[:80]
        callback_url = request.POST.get("callback_url", "").strip()[:500]
        live = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True).count()
        error = None
        if not name:
            error = "Give the token a name, e.g. the computer or script that will use it."
        elif live >= MAX_LIVE_TOKENS:
            error = f"You have {live} tokens; revoke one you no longer use first."
        elif callback_url:
            try:
                callbacks.check_url(callback_url)
            except callbacks.CallbackRefused as refused:
                error = str(refused)
        if error:
            messages.error(request, error)
            status = 400
        else:
            token, key = ApiToken.issue(request.user, name, callback_url)
            created = {"token": token, "key": key, "secret": token.callback_secret}
    listing = ApiToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at")
    response = render(request, "api/tokens.html", {"tokens": listing, "created": created}, status=status)
    response["Cache-Control"] = "no-store"  # the page may show a key
    return response


@login_required
@require_POST
def revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        messages.success(request, f"Revoked “{token.name}”. Scripts using it are refused from now on.")
    return redirect("api-tokens")
