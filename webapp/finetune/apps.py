from django.apps import AppConfig


class FinetuneConfig(AppConfig):
    name = "webapp.finetune"
    label = "finetune"
    verbose_name = "Fine-tuning"
