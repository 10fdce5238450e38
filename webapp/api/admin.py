from django.contrib import admin

from webapp.api.models import ApiToken, Callback


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owners (account page); staff may see and revoke them, never read a key."""

    list_display = ("name", "user", "key_prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "key_prefix")
    fields = readonly_fields = ("user", "name", "key_prefix", "callback_url", "created_at", "last_used_at")
    exclude = ("key_hash", "callback_secret")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token{'s' if count != 1 else ''}.")


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ("url", "state", "attempts", "last_error", "created_at", "delivered_at")
    list_filter = ("state",)
    search_fields = ("url", "colorization__id")
    fields = readonly_fields = ("colorization", "token", "url", "state", "attempts", "last_error", "created_at",
                                "delivered_at")

    def has_add_permission(self, request):
        return False
