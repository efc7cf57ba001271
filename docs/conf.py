"""Sphinx configuration of the sklearn-rmd documentation.

Build (warnings are errors, the examples run during the build):

    pip install -e '.[docs]'
    sphinx-build -W -b html docs docs/_build/html
"""

import os
import sys
import warnings

# The examples' figures are drawn off-screen; torch on one CPU thread keeps the
# examples' timings stable on shared machines (set before torch is imported).
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.abspath(".."))

import sklearn_rmd  # noqa: E402

project = "sklearn-rmd"
author = "sklearn-rmd developers"
copyright = "sklearn-rmd developers, BSD-3-Clause"
version = release = sklearn_rmd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]

# Markdown pages (myst-parser): $...$ and $$...$$ are LaTeX math.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# API reference: autosummary pages from the docstrings (numpydoc format).
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# Worked examples, executed at build time (sphinx-gallery).
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # Only plot_*.py files are gallery examples; other scripts in examples/ (such
    # as accelerate_rmd.py, run with `accelerate launch`) stay out of the gallery.
    "ignore_pattern": r"__init__\.py|^(?!plot_)",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "show_memory": False,
}

html_theme = "alabaster"
html_theme_options = {
    "description": "Learning with noisy labels for scikit-learn",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_static_path = []
html_title = f"sklearn-rmd {release}"

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
