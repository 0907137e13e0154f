"""Serve MathJax from the built book instead of a CDN, so the equations render offline too.

MathJax 3's "tex-svg" component is a single self-contained file (its fonts are inside it). We take
it from the pip package django-static-mathjax (pinned in requirements.txt, a plain copy of
MathJax's es5 build) and publish it as _static/mathjax/tex-svg.js; Sphinx's `mathjax_path`, when
relative, is read from the built site's _static folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

COMPONENT = "tex-svg.js"


def component_file() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is not installed: `pip install -r requirements.txt` "
                           "(it provides django-static-mathjax, the book's offline MathJax).")
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5" / COMPONENT
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall django-static-mathjax (requirements.txt).")
    return path


def _publish(app, config) -> None:
    static = Path(tempfile.mkdtemp(prefix="vitcourse-mathjax-"))
    (static / "mathjax").mkdir()
    shutil.copy2(component_file(), static / "mathjax" / COMPONENT)
    config.html_static_path = list(config.html_static_path) + [str(static)]
    config.mathjax_path = f"mathjax/{COMPONENT}"


def setup(app):
    app.connect("config-inited", _publish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
