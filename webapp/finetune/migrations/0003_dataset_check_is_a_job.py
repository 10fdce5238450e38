"""A dataset's check is a Job (webapp.core.jobs) like the others: `status` becomes `state`, with the
values every job shares (pending -> queued, processing -> running, ready -> done), and `processed_at`
becomes `finished_at`. Existing rows keep their meaning."""

import django.utils.timezone
from django.db import migrations, models

OLD_TO_NEW = {"pending": "queued", "processing": "running", "ready": "done"}


def to_job_states(apps, schema_editor):
    Dataset = apps.get_model("finetune", "Dataset")
    for old, new in OLD_TO_NEW.items():
        Dataset.objects.filter(state=old).update(state=new)


def to_dataset_statuses(apps, schema_editor):
    Dataset = apps.get_model("finetune", "Dataset")
    for old, new in OLD_TO_NEW.items():
        Dataset.objects.filter(state=new).update(state=old)


class Migration(migrations.Migration):

    dependencies = [
        ('finetune', '0002_dataset_check_claim'),
    ]

    operations = [
        migrations.RenameField(model_name='dataset', old_name='status', new_name='state'),
        migrations.RenameField(model_name='dataset', old_name='processed_at', new_name='finished_at'),
        migrations.AlterField(
            model_name='dataset',
            name='state',
            field=models.CharField(choices=[('queued', 'Waiting to be checked'), ('running', 'Checking photos'), ('done', 'Ready'), ('failed', 'Rejected')], db_index=True, default='queued', max_length=16),
        ),
        migrations.RunPython(to_job_states, to_dataset_statuses),
        migrations.AlterField(
            model_name='dataset',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='How many times a worker has claimed the job.'),
        ),
        migrations.AlterField(
            model_name='dataset',
            name='created_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='dataset',
            name='enqueued_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When its task message was last sent.'),
        ),
    ]
