"""vitcourse: the package behind the Vision Transformer course.

`vitcourse.models` holds the ViT built module by module (and ResNet-18 baselines);
the notebooks import from here once a chapter has built and checked a module.
"""

__version__ = "0.1.0"
