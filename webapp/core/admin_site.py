"""The admin site: staff only, and a signed-in non-staff user gets 403 rather than a login page."""

from functools import wraps

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied


class HueAdminSite(admin.AdminSite):
    site_header = "Hue administration"
    site_title = "Hue admin"
    index_title = "Photos, models and training"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def staff_only(request, *args, **kwargs):
            if request.user.is_authenticated and not request.user.is_staff:
                raise PermissionDenied("Only staff can open the admin.")
            return inner(request, *args, **kwargs)

        return staff_only

    def each_context(self, request):
        context = super().each_context(request)
        if request.user.is_active and request.user.is_staff:
            from webapp.registry.services import missing_model_warning

            # On every admin page (templates/admin/base_site.html): without a model no photo is colorized.
            context["model_warning"] = missing_model_warning()
        return context


class HueAdminConfig(AdminConfig):
    default_site = "webapp.core.admin_site.HueAdminSite"
