from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "webapp.registry"
    label = "registry"
    verbose_name = "Model versions"

    def ready(self):
        # A fresh install gets the shipped model as version 1 with no manual step.
        post_migrate.connect(_register_default, sender=self, dispatch_uid="registry-default-model")


def _register_default(sender, using="default", **kwargs):
    from webapp.registry.services import register_shipped_default

    register_shipped_default(using=using)
