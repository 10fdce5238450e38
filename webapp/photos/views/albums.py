"""Albums: named sets of one owner's photos, each shown as its own gallery."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.photos import services
from webapp.photos.models import Album, Photo
from webapp.photos.views.gallery import back_to_gallery, render_gallery, selection


def album_name(request, value: str) -> str | None:
    """A new album name from a form, or None after telling the person what is wrong with it."""
    name = " ".join((value or "").split())[:120]
    if not name:
        messages.error(request, "Give the album a name.")
        return None
    return name


@login_required
@require_http_methods(["GET", "POST"])
def albums(request):
    """The owner's albums; a POST makes a new, empty one."""
    if request.method == "POST":
        name = album_name(request, request.POST.get("name"))
        if name is None:
            return redirect("photos:albums")
        album, created = Album.objects.get_or_create(owner=request.user, name=name)
        if not created:
            messages.info(request, f"You already have an album called “{name}”: here it is.")
        return redirect(album)
    listing = (Album.objects.filter(owner=request.user).annotate(count=Count("photos"))
               .prefetch_related(Prefetch("photos", queryset=Photo.objects.order_by("-created_at"))))
    return render(request, "photos/albums.html", {"albums": listing})


@login_required
@require_GET
def album(request, album_id):
    return render_gallery(request, album=services.get_album_for(request.user, album_id))


@login_required
@require_POST
def album_add(request):
    """Put the ticked photos in an album: an existing one, or a new one named in the form."""
    photos, _ = selection(request, request.POST)
    photos = list(photos)
    if not photos:
        messages.error(request, "Tick the photos to put in an album first.")
        return back_to_gallery(request.POST)
    target = request.POST.get("target_album", "")
    if target == "new":
        name = album_name(request, request.POST.get("new_album_name"))
        if name is None:
            return back_to_gallery(request.POST)
        target_album, _ = Album.objects.get_or_create(owner=request.user, name=name)
    else:
        target_album = services.get_album_for(request.user, target)
    target_album.photos.add(*photos)
    messages.success(request, f"Added {len(photos)} photo{'s' if len(photos) != 1 else ''} to "
                              f"“{target_album.name}”.")
    return back_to_gallery(request.POST)


@login_required
@require_POST
def album_remove(request, album_id):
    """Take the ticked photos out of the album (they stay in the gallery)."""
    target_album = services.get_album_for(request.user, album_id)
    photos, _ = selection(request, request.POST)
    photos = list(photos)
    target_album.photos.remove(*photos)
    messages.success(request, f"Removed {len(photos)} photo{'s' if len(photos) != 1 else ''} from "
                              f"“{target_album.name}”; they stay in your gallery.")
    return back_to_gallery(request.POST, target_album)


@login_required
@require_POST
def album_rename(request, album_id):
    target_album = services.get_album_for(request.user, album_id)
    name = album_name(request, request.POST.get("name"))
    if name is not None:
        if Album.objects.filter(owner=request.user, name=name).exclude(pk=target_album.pk).exists():
            messages.error(request, f"You already have an album called “{name}”.")
        else:
            target_album.name = name
            target_album.save(update_fields=["name"])
            messages.success(request, f"Renamed the album to “{name}”.")
    return redirect(target_album)


@login_required
@require_POST
def album_delete(request, album_id):
    target_album = services.get_album_for(request.user, album_id)
    name = target_album.name
    target_album.delete()
    messages.success(request, f"Deleted the album “{name}”. Its photos stay in your gallery.")
    return redirect("photos:albums")
