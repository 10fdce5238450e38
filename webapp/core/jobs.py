"""Background jobs whose state lives in the database, not in the broker: one lifecycle for every kind.

A job row moves queued -> running -> one of its end states. A Celery task carries only the
row's primary key and *claims* the job with a conditional UPDATE (queued -> running,
with a fresh claim token), so a second delivery of the same message does nothing.
While it runs, a heartbeat thread stamps the row; every later write is conditional on
the claim token, so a worker that was presumed dead cannot overwrite a newer attempt.

Each kind of job (a subclass of `Job`: colorizations, fine-tuning runs, dataset checks) words its
states for people (its own `state` choices; the values of queued and running are shared) and
declares the states it may end in (`END_STATES`: a fine-tune can also end cancelled or interrupted).

The reaper (`requeue_stalled`) is what makes the broker's losses harmless, by a policy per kind:
- a running job whose heartbeat stopped (its worker died) goes back to queued, or ends (failed,
  or interrupted) once it has used its attempts;
- a queued job whose message is older than a deadline (Redis restarted or was emptied)
  gets its message sent again. Duplicates are harmless: only one of them can claim.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, ClassVar

from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, models
from django.db.models import F
from django.utils import timezone

log = logging.getLogger(__name__)


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


UNFINISHED = (JobState.QUEUED, JobState.RUNNING)


class Job(models.Model):
    """The state of one background job (abstract: subclasses add what the job is about)."""

    State: ClassVar[type[models.TextChoices]] = JobState  # how people read the states (a subclass may reword)
    # The states a claimed job may end in (finish() refuses others); a subclass with more end states
    # gives `state` choices that name them.
    END_STATES: ClassVar[tuple[str, ...]] = (JobState.DONE, JobState.FAILED)

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    message = models.CharField(max_length=500, blank=True, help_text="What a person should know about the state.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker has claimed the job.")
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(default=timezone.now, help_text="When its task message was last sent.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.state in self.END_STATES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


def claim(model: type[Job], pk) -> Job | None:
    """Take a queued job for this worker; None when it is not queued (done, running elsewhere, deleted)
    or when `pk` cannot be a job's key at all (a malformed task message)."""
    try:
        pk = model._meta.pk.to_python(pk)
    except ValidationError:
        # Permanent: no retry can make such a job exist, and the task retries whatever escapes it.
        log.error("%s task for a malformed id %r; dropping it", model.__name__, pk)
        return None
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = model.objects.filter(pk=pk, state=JobState.QUEUED).update(
        state=JobState.RUNNING, claim_token=token, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        finished_at=None, message="",
    )
    if not claimed:
        return None
    return model.objects.get(pk=pk)


def owned(job: Job) -> models.QuerySet:
    """The job's row while this worker still holds its claim: every write of a running job goes through it."""
    return type(job).objects.filter(pk=job.pk, state=JobState.RUNNING, claim_token=job.claim_token)


def _fit_message(job: Job, message: str) -> str:
    limit = type(job)._meta.get_field("message").max_length
    return message[:limit] if limit else message


def finish(job: Job, state: str, message: str = "", **fields) -> bool:
    """Record how a claimed job ended (one of its END_STATES), with any of its own fields. False when the
    claim was lost (requeued, interrupted or deleted meanwhile)."""
    if state not in type(job).END_STATES:
        raise ValueError(f"a {type(job).__name__} cannot end {state!r}")
    now = timezone.now()
    message = _fit_message(job, message)
    if not owned(job).update(state=state, message=message, finished_at=now, claim_token="", **fields):
        return False
    job.state, job.message, job.finished_at, job.claim_token = state, message, now, ""
    for name, value in fields.items():
        setattr(job, name, value)
    return True


def end_unclaimed(job: Job, state: str, message: str = "", **fields) -> bool:
    """End a job that no worker has claimed yet (cancelled before it started). False when it is not queued."""
    if state not in type(job).END_STATES:
        raise ValueError(f"a {type(job).__name__} cannot end {state!r}")
    return bool(type(job).objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=state, message=_fit_message(job, message), finished_at=timezone.now(), **fields))


def requeue(job: Job, message: str, *, ended: tuple[str, ...], **fields) -> bool:
    """Queue a job that ended in one of `ended` again (an admin resumes it); the caller sends its message.
    False when it is in none of them (any more)."""
    return bool(type(job).objects.filter(pk=job.pk, state__in=ended).update(
        state=JobState.QUEUED, claim_token="", finished_at=None, enqueued_at=timezone.now(),
        message=_fit_message(job, message), **fields))


def release(job: Job, message: str) -> bool:
    """Put a claimed job back in the queue (after a transient error); the caller sends a new message."""
    now = timezone.now()
    message = _fit_message(job, message)
    if not owned(job).update(state=JobState.QUEUED, claim_token="", enqueued_at=now, message=message):
        return False
    job.state, job.claim_token, job.enqueued_at, job.message = JobState.QUEUED, "", now, message
    return True


class Heartbeat:
    """Stamp a claimed job every `interval` seconds from a thread, while the block runs.

        with Heartbeat(job, interval=10):
            slow_work()
    """

    def __init__(self, job: Job, interval: float):
        self.job = job
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job.pk}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not owned(self.job).update(heartbeat_at=timezone.now()):
                        return  # the claim was lost: nothing left to keep alive
                except Exception:  # a database hiccup must not kill the job; the next beat may succeed
                    log.warning("heartbeat of %s %s failed", type(self.job).__name__, self.job.pk, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection


@dataclass(frozen=True)
class ReaperPolicy:
    """What the reaper does with one kind of job (built from the settings each time it runs)."""

    stalled_after: float  # a running job without a heartbeat this long (seconds) has lost its worker
    resend_after: float  # a queued job whose message was sent this long ago gets it again
    max_attempts: int  # a stalled job claimed this many times ends instead of being requeued (0: always ends)
    end_message: Callable[[Job], str]  # why it ended, for a person
    end_state: str = JobState.FAILED  # how a stalled job ends (a fine-tune: interrupted, resumable)
    requeue_message: str = "Waiting for a worker again: the previous one stopped while working on it."


@dataclass
class ReaperReport:
    requeued: list = field(default_factory=list)  # running jobs whose worker died, queued again
    resent: list = field(default_factory=list)  # queued jobs whose message was sent again
    ended: list = field(default_factory=list)  # stalled jobs that ended (used up their attempts)


def requeue_stalled(model: type[Job], policy: ReaperPolicy, *, send: Callable[[Job], None],
                    changed: Callable[[Job], None]) -> ReaperReport:
    """Rescue the jobs of one kind that the broker or a worker lost. `send` sends a job's task message;
    `changed` is told of every job whose state the reaper changed (to tell people, or clean up)."""
    now = timezone.now()
    report = ReaperReport()
    stalled = model.objects.filter(state=JobState.RUNNING,
                                   heartbeat_at__lt=now - timedelta(seconds=policy.stalled_after))
    for job in stalled:
        if job.attempts >= policy.max_attempts:
            if finish(job, policy.end_state, policy.end_message(job)):
                report.ended.append(job.pk)
                changed(job)
        elif release(job, policy.requeue_message):
            report.requeued.append(job.pk)
            changed(job)  # before the message goes out: a worker may report "running" at once
            send(job)
    lost = model.objects.filter(state=JobState.QUEUED, enqueued_at__lt=now - timedelta(seconds=policy.resend_after))
    for job in lost:
        # Conditional on enqueued_at, so two reapers running at once send one message, not two.
        if model.objects.filter(pk=job.pk, state=JobState.QUEUED, enqueued_at=job.enqueued_at).update(enqueued_at=now):
            report.resent.append(job.pk)
            send(job)
    if report.requeued or report.resent or report.ended:
        log.info("reaper %s: requeued %d, resent %d, ended %d", model.__name__, len(report.requeued),
                 len(report.resent), len(report.ended))
    return report
