"""Every experiment of the book, one module per chapter. Import order is suite order: the
experiments whose plots matter most come first, so a short GPU budget is spent on them."""

from . import part2_first_run  # noqa: F401
from . import part3_recipe  # noqa: F401
from . import part3_compare  # noqa: F401
from . import part3_data_ablations  # noqa: F401
from . import part3_inspect  # noqa: F401
from . import part3_light  # noqa: F401
from . import part3_transfer  # noqa: F401
from . import part3_imbalance  # noqa: F401

from .cpu_scale import attach_cpu_profiles  # noqa: E402  (after every experiment exists)

attach_cpu_profiles()
