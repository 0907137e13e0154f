"""Every experiment of the book, one module per chapter. Import order is suite order: the
experiments whose plots matter most come first, so a short GPU budget is spent on them."""

from . import part2_first_run  # noqa: F401
