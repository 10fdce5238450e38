from django.contrib import admin

from webapp.registry.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "is_active", "created_at", "base_version")
    readonly_fields = ("config", "metrics", "history", "activated_at", "created_at")
