"""Every ``Examples`` section in emtutor's docstrings runs and prints what it shows.

The API pages show these examples to readers; an example whose output no
longer matches the code would teach the wrong thing.
"""

import doctest
import importlib
import pkgutil

import pytest

import emtutor

MODULES = sorted(info.name for info in pkgutil.iter_modules(emtutor.__path__, "emtutor."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, report=True)
    assert failures == 0, f"{failures} of {attempted} docstring examples in {name} print something else"


def test_examples_exist():
    counts = {name: len([t for t in doctest.DocTestFinder().find(importlib.import_module(name)) if t.examples])
              for name in MODULES}
    assert counts["emtutor.bernoulli"] >= 1 and counts["emtutor.gmm"] >= 1 and counts["emtutor.estimators"] >= 1
