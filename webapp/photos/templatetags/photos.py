"""Template filters for the photo pages."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from webapp.core.jobs import JobState
from webapp.photos.models import COLORIZATION_WORDING

register = template.Library()

# File names rarely have spaces; these are where a long one may wrap without splitting a word.
BREAK_AFTER = re.compile(r"([_\-.,+~)\]])")


@register.filter
def breakable(name: str) -> str:
    """`name`, escaped, with a line-break opportunity (<wbr>) after each separator: a long file name
    wraps at `_`, `-`, `.` and the like on a narrow screen instead of in the middle of a word."""
    return mark_safe(BREAK_AFTER.sub(r"\1<wbr>", str(escape(name))))


@register.filter
def waiting_label(job) -> str:
    """What a gallery card shows until the photo's result arrives (a photo without a colorization waits too)."""
    return COLORIZATION_WORDING[job.state if job else JobState.QUEUED]["waiting"]
