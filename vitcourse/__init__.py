"""vitcourse: the package behind the Vision Transformer course.

`vitcourse.models` holds the ViT built module by module (and ResNet-18 baselines);
the notebooks import from here once a chapter has built and checked a module.
"""

from pathlib import Path

__version__ = "0.1.0"
# The checkout the package runs from (data/, runs/ and the git metadata live here).
REPO_ROOT = Path(__file__).resolve().parents[1]
