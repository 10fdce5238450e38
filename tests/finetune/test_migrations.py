"""Migrations keep what the rows meant: a dataset's check became a job, and its states the job's."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("finetune", "0002_dataset_check_claim")]
AFTER = [("finetune", "0003_dataset_check_is_a_job")]
OLD_STATUSES = ["pending", "processing", "ready", "failed"]


def migrate(targets=None):
    """Migrate the test database to `targets` (default: every app's latest); the models as they were then."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest_schema():
    yield
    migrate()


@pytest.mark.django_db(transaction=True)
def test_datasets_keep_their_state_and_check_time_when_the_check_becomes_a_job_and_back(back_to_the_latest_schema):
    stamp = timezone.now()
    Dataset = migrate(BEFORE).get_model("finetune", "Dataset")
    for status in OLD_STATUSES:
        Dataset.objects.create(name=status, source="folder", status=status, processed_at=stamp)

    Dataset = migrate(AFTER).get_model("finetune", "Dataset")
    assert sorted(Dataset.objects.values_list("name", "state")) == [
        ("failed", "failed"), ("pending", "queued"), ("processing", "running"), ("ready", "done")]
    assert set(Dataset.objects.values_list("finished_at", flat=True)) == {stamp}

    Dataset = migrate(BEFORE).get_model("finetune", "Dataset")
    assert sorted(Dataset.objects.values_list("name", "status")) == [(status, status) for status in sorted(OLD_STATUSES)]
