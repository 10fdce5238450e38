from webapp.core.jobs import JobState
from webapp.photos import events
from webapp.photos.models import Colorization
from webapp.photos.templatetags.photos import breakable, waiting_label


def test_a_file_name_may_wrap_after_its_separators_and_stays_escaped():
    assert breakable("old_photo-1931.jpg") == "old_<wbr>photo-<wbr>1931.<wbr>jpg"
    assert breakable("<script>.jpg") == "&lt;script&gt;.<wbr>jpg"


def test_a_card_waits_with_the_same_words_the_pages_scripts_get(job):
    Colorization.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    job.refresh_from_db()

    payload = events.job_payload(job)

    assert waiting_label(job) == payload["waiting_label"] == "Failed"
    assert payload["status_text"] == "Colorization failed." and payload["state_label"] == "Failed"
    assert waiting_label(None) == "Colorizing…"  # a photo without a colorization waits like a queued one
