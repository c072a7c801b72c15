"""The book's Sphinx configuration reads only the book.

Directories that the Makefile or packaging create next to book/ must not be
read as pages: `make test-pythons` leaves .venv-3.X environments whose
site-packages hold other projects' notebooks, which broke `make book`.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from sphinx.util.matching import get_matching_files

ROOT = Path(__file__).resolve().parents[1]


OUTSIDE = [
    ".venv/lib/python3.11/site-packages/nbgrader/tests/apps/files/test-v0.ipynb",
    ".venv-3.12/lib/python3.12/site-packages/nbgrader/tests/apps/files/test-v0.ipynb",
    ".venv-3.13/lib/python3.13/site-packages/x.ipynb",
    "build/lib/emtutor/data/README.md",
    "emtutor.egg-info/README.md",
    "tools/README.md",
    "_build/html/index.md",
    "node_modules/x/README.md",
    "book/assignments/source/gmm_steps/gmm_steps.ipynb",
]
PAGES = ["book/intro.md", "book/gmm_e_step.ipynb", "book/assignments/gmm_steps.ipynb"]


def test_only_the_chapters_are_read(tmp_path):
    """Sphinx's own file discovery, with the book's patterns, on a tree holding both."""
    for path in OUTSIDE + PAGES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    found = set(get_matching_files(tmp_path, include_patterns=["**"], exclude_patterns=config["exclude_patterns"]))
    assert found == set(PAGES)
