"""Byte counts in messages people read: rounded when that tells sizes apart, exact when it does not.

"This file is 25 MB; the limit is 25 MB" for a file one byte over the limit says nothing; the exact
figures ("26,214,401 bytes; the limit is 26,214,400 bytes (25 MB)") say what is wrong.
"""


def describe_bytes(size: int) -> str:
    """A rounded size: 25 MB, 340 KB, 812 bytes."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size:,} bytes"


def describe_size_and_limit(size: int, limit: int) -> tuple[str, str]:
    """(size, limit) for "X; the limit is Y": exact byte counts when the rounded ones would read the same,
    or would not show that the size is over the limit."""
    rounded_size, rounded_limit = describe_bytes(size), describe_bytes(limit)
    if rounded_size != rounded_limit and _sorts_as(size, limit, rounded_size, rounded_limit):
        return rounded_size, rounded_limit
    exact_limit = f"{limit:,} bytes" + (f" ({rounded_limit})" if limit >= 1024 else "")
    return f"{size:,} bytes", exact_limit


def _sorts_as(size: int, limit: int, rounded_size: str, rounded_limit: str) -> bool:
    """Whether the rounded labels keep the order of the sizes (10.0 MB vs 9.9 MB, not 1 MB vs 1023 KB)."""
    return (size > limit) == (_value(rounded_size) > _value(rounded_limit))


def _value(label: str) -> float:
    number, unit = label.split(" ")
    return float(number.replace(",", "")) * {"MB": 1024 * 1024, "KB": 1024, "bytes": 1}[unit]
