"""Template filters for the photo pages."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

# File names rarely have spaces; these are where a long one may wrap without splitting a word.
BREAK_AFTER = re.compile(r"([_\-.,+~)\]])")


@register.filter
def breakable(name: str) -> str:
    """`name`, escaped, with a line-break opportunity (<wbr>) after each separator: a long file name
    wraps at `_`, `-`, `.` and the like on a narrow screen instead of in the middle of a word."""
    return mark_safe(BREAK_AFTER.sub(r"\1<wbr>", str(escape(name))))
