"""python manage.py register_default_model: add the shipped model once its file is there.

A fresh install registers colorizer/weights/default.safetensors (COLORIZER_DEFAULT_WEIGHTS)
by itself after `migrate`; this is for a file that arrives later, or a newer one. The file
is added unless a version already holds the same weights, and activated only when no
version is active (otherwise activate it from the admin).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from webapp.registry.services import register_default_model


class Command(BaseCommand):
    help = "Register the shipped default model (COLORIZER_DEFAULT_WEIGHTS) unless a version has the same weights."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database to register it in.")

    def handle(self, *args, database, **options):
        path = settings.COLORIZER_DEFAULT_WEIGHTS
        try:
            version, added = register_default_model(using=database)
        except FileNotFoundError:
            raise CommandError(f"No model file at {path}: put the generator .safetensors there (or point "
                               "COLORIZER_DEFAULT_WEIGHTS at it) and run this again.") from None
        except ValueError as exc:
            raise CommandError(f"{path} is not a colorizer generator file: {exc}") from None
        state = "active" if version.is_active else "not active: activate it under Model versions in the admin"
        if added:
            metrics = "with its metrics" if version.metrics else "without metrics (no docs/model_metrics.json row)"
            self.stdout.write(f"Registered {path.name} as v{version.number} {metrics}; {state}.")
        else:
            self.stdout.write(f"v{version.number} already holds these weights; {state}.")
