from django.conf import settings
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from webapp.accounts.forms import SignUpForm


@require_http_methods(["GET", "POST"])
@ratelimit(key="webapp.accounts.throttle.signup_key", rate=lambda group, request: settings.SIGNUP_RATE,
           method="POST", block=False)
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if getattr(request, "limited", False):
        form.is_valid()  # show what was typed, with the reason it was not accepted
        form.add_error(None, "Too many accounts were created from your network address. Try again in an hour.")
        return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("photos:upload")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)
