"""Every public module of ``emtutor`` has its page in the API reference.

The pages are written by hand (``book/api/<module>.md``, one
``automodule`` each) and listed in ``_toc.yml``; this test is what reminds
a new module to add its page.
"""

import types
from pathlib import Path

import pytest

import emtutor

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = sorted(
    name for name in emtutor.__all__ if isinstance(getattr(emtutor, name), types.ModuleType)
)


def test_there_are_public_modules():
    assert {"em", "gmm"} <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_module_has_api_page(name):
    page = ROOT / "book" / "api" / f"{name}.md"
    assert page.is_file(), f"emtutor.{name} has no API page: add {page.relative_to(ROOT)}"
    assert f".. automodule:: emtutor.{name}\n" in page.read_text(), (
        f"{page.relative_to(ROOT)} does not document emtutor.{name} with automodule"
    )
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: book/api/{name}\n" in toc, f"add book/api/{name} to _toc.yml under book/api/index"
