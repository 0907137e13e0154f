"""Serve MathJax from the built book instead of a CDN, so the equations render offline too.

MathJax 3's "tex-svg" component is a single self-contained file (its fonts are inside it). We take
it from the pip package django-static-mathjax (pinned in requirements.txt, a plain copy of
MathJax's es5 build) and publish it as _static/mathjax/tex-svg.js; Sphinx's `mathjax_path`, when
relative, is read from the built site's _static folder.
"""

from __future__ import annotations

import importlib.util
import shutil
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


def _use_local_mathjax(app, config) -> None:
    config.mathjax_path = f"mathjax/{COMPONENT}"


def _publish(app, exception) -> None:
    """Copy the component into the built site once the HTML is written."""
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(component_file(), target / COMPONENT)


def setup(app):
    component_file()  # fail at start-up, not after the build, when the package is missing
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _publish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
