from django.contrib import admin
from django.utils.html import format_html

from webapp.photos.models import Album, Colorization, Photo


class ColorizationInline(admin.TabularInline):
    model = Colorization
    extra = 0
    can_delete = False
    fields = ("state", "message", "attempts", "render_size", "seed", "model_label", "created_at", "finished_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ("original_name", "owner", "dimensions", "format", "created_at", "view")
    list_filter = ("format",)
    search_fields = ("original_name", "owner__username", "id")
    date_hierarchy = "created_at"
    # Files appear as names, not links: no media URL is served (staff open them from the photo's page).
    fields = readonly_fields = ("id", "owner", "original_name", "format", "width", "height", "size", "notes",
                                "created_at", "stored_files", "view")
    inlines = [ColorizationInline]

    @admin.display(description="stored files")
    def stored_files(self, photo: Photo) -> str:
        return ", ".join(file.name for file in (photo.original, photo.thumbnail, photo.preview) if file)

    @admin.display(description="size")
    def dimensions(self, photo: Photo) -> str:
        return f"{photo.width} × {photo.height}"

    @admin.display(description="page")
    def view(self, photo: Photo) -> str:
        # Files are private: staff open them through the photo's page, never a media URL.
        return format_html('<a href="{}">open</a>', photo.get_absolute_url())

    def has_add_permission(self, request):
        return False  # photos come in through the upload page, which checks them


@admin.register(Colorization)
class ColorizationAdmin(admin.ModelAdmin):
    list_display = ("photo", "state", "attempts", "render_size", "seed", "model_label", "created_at", "finished_at")
    list_filter = ("state", "render_size", "model_version")
    search_fields = ("id", "photo__original_name", "photo__owner__username", "message")
    fields = readonly_fields = ("id", "photo", "state", "message", "attempts", "claim_token", "render_size", "seed",
                                "requested_version", "model_version", "model_label", "stored_files", "created_at",
                                "enqueued_at", "started_at", "heartbeat_at", "finished_at")

    @admin.display(description="stored files")
    def stored_files(self, job: Colorization) -> str:
        return ", ".join(file.name for file in (job.result, job.result_thumbnail, job.result_preview) if file)

    def has_add_permission(self, request):
        return False


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner", "photos")
