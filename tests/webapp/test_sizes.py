"""Sizes in messages: rounded when that tells them apart, exact when it does not."""

from webapp.core.sizes import describe_size_and_limit

MB = 1024 * 1024


def test_it_rounds_sizes_that_read_differently():
    assert describe_size_and_limit(30 * MB, 25 * MB) == ("30 MB", "25 MB")


def test_it_gives_exact_bytes_for_a_file_one_byte_over():
    assert describe_size_and_limit(25 * MB + 1, 25 * MB) == ("26,214,401 bytes", "26,214,400 bytes (25 MB)")


def test_it_gives_exact_bytes_when_rounding_would_turn_the_order_around():
    # 1 MB + 1 byte rounds to "1 MB", its limit 1,048,000 bytes to "1023 KB": right order, but 1 MB
    # versus 1023 KB hides how close they are only when the labels collide; here they keep their order.
    assert describe_size_and_limit(MB + 1, 1_048_000) == ("1 MB", "1023 KB")
    assert describe_size_and_limit(1_048_000, 1_047_990) == ("1,048,000 bytes", "1,047,990 bytes (1023 KB)")
