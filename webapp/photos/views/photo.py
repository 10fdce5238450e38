"""One photo's page: its results side by side with the original, colorizing it again, deleting it."""

import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.photos import events, services
from webapp.photos.forms import RerunForm
from webapp.photos.models import Photo
from webapp.photos.sharing import live_links


def select_result(runs: list, wanted: str | None):
    """The colorization asked for in ?result=, else the newest finished one, else the newest."""
    if wanted:
        try:
            wanted_id = uuid.UUID(wanted)
        except ValueError:
            wanted_id = None
        for run in runs:
            if run.pk == wanted_id:
                return run
    return next((run for run in runs if run.has_result), runs[0] if runs else None)


@login_required
@require_GET
def detail(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id)
    return render_detail(request, photo, request.GET.get("result"))


def render_detail(request, photo: Photo, wanted: str | None, status: int = 200):
    runs = list(photo.colorizations.select_related("model_version", "photo").order_by("-created_at"))
    selected = select_result(runs, wanted)
    form = RerunForm(photo, initial={"render_size": selected.render_size if selected else None,
                                     "intensity": selected.intensity if selected else 1.0,
                                     "hints": json.dumps(selected.hints if selected else [])}, user=request.user)
    context = {"photo": photo, "runs": runs, "selected": selected, "form": form,
               "share_links": live_links(owner=request.user, photo=photo),
               "selected_payload": events.job_payload(selected) if selected else None}
    return render(request, "photos/detail.html", context, status=status)


@login_required
@require_POST
def rerun(request, photo_id):
    """Queue another colorization, then redirect (a reload never posts again): to the new result, to the
    result these settings already made, or back to the photo with what was wrong."""
    photo = services.get_photo_for(request.user, photo_id, viewing=False)
    form = RerunForm(photo, request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        if "hints" in form.errors:  # what a page of ours never sends: say so plainly, 400
            return render_detail(request, photo, None, status=400)
        return redirect(photo.get_absolute_url())
    same = form.same_result()
    if same is not None:
        messages.info(request, f"This photo already has that result ({same.render_size} px, "
                               f"{form.version_label()}, intensity {same.intensity_label.lower()}): here it is. Ask for a new variation to get another.")
        return redirect(same.get_absolute_url())
    seed = services.new_variation_seed() if form.cleaned_data["variation"] else None
    job = services.request_colorization(photo, render_size=form.cleaned_data["render_size"], seed=seed,
                                        version=form.cleaned_data.get("model_version"),
                                        intensity=form.cleaned_data["intensity"], hints=form.cleaned_data["hints"])
    messages.success(request, "Colorizing again. The new result appears here when it is ready.",
                     extra_tags=f"until-done job-{job.pk}")
    return redirect(job.get_absolute_url())


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id, viewing=False)
    if request.method == "GET":
        return render(request, "photos/confirm_delete.html", {"photo": photo})
    name = photo.original_name
    services.delete_photo(photo)
    messages.success(request, f"Deleted {name} and its colorizations.")
    return redirect("photos:gallery")
