"""The links between the book's equations and the package's code.

Both directions: every equation label a docstring cites exists in the book,
and every row of a chapter's Implementation table that maps labels to an
``emtutor`` function names a function that exists and cites those labels.
"""

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import emtutor

BOOK = Path(__file__).resolve().parent.parent / "book"
LABEL_DEF = re.compile(r"\$\$\s*\(([A-Za-z0-9_-]+)\)")  # $$ ... $$ (label)
EQ_ROLE_DOC = re.compile(r":eq:`([A-Za-z0-9_-]+)`")  # in docstrings
EQ_ROLE_BOOK = re.compile(r"\{eq\}`([A-Za-z0-9_-]+)`")  # in chapters
TABLE_ROW = re.compile(r"^\|(.*)\|\s*$", re.M)
CODE_NAME = re.compile(r"`(emtutor(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def book_texts():
    for path in sorted(BOOK.rglob("*")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        if path.suffix == ".md":
            yield path, path.read_text()
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def defined_labels():
    labels = {}
    for path, text in book_texts():
        for label in LABEL_DEF.findall(text):
            labels.setdefault(label, []).append(path.name)
    return labels


def package_objects():
    """Every public function and class (and method) of every emtutor module."""
    seen = set()
    for info in pkgutil.iter_modules(emtutor.__path__):
        module = importlib.import_module(f"emtutor.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            qualname = f"{module.__name__}.{name}"
            if qualname in seen:
                continue
            seen.add(qualname)
            yield qualname, obj
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        yield f"{qualname}.{meth_name}", meth


def cited_labels(obj):
    return set(EQ_ROLE_DOC.findall(inspect.getdoc(obj) or ""))


def resolve(dotted):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_labels_are_unique_across_the_book():
    duplicated = {k: v for k, v in defined_labels().items() if len(v) > 1}
    assert not duplicated, f"equation labels defined more than once: {duplicated}"


def test_every_label_cited_in_a_docstring_exists_in_the_book():
    labels = defined_labels()
    missing = {
        qualname: sorted(cited_labels(obj) - labels.keys())
        for qualname, obj in package_objects()
        if cited_labels(obj) - labels.keys()
    }
    assert not missing, f"docstrings cite equations that no chapter defines: {missing}"
    # and module docstrings too
    for info in pkgutil.iter_modules(emtutor.__path__):
        module = importlib.import_module(f"emtutor.{info.name}")
        unknown = set(EQ_ROLE_DOC.findall(module.__doc__ or "")) - labels.keys()
        assert not unknown, f"{module.__name__} docstring cites undefined {unknown}"


def implementation_rows():
    rows = []
    for path, text in book_texts():
        for row in TABLE_ROW.findall(text):
            labels = EQ_ROLE_BOOK.findall(row)
            names = CODE_NAME.findall(row)
            if labels and names:
                rows.append((path.name, tuple(labels), tuple(names)))
    return rows


def test_the_book_has_implementation_tables():
    assert len(implementation_rows()) >= 4


@pytest.mark.parametrize("chapter, labels, names", implementation_rows())
def test_implementation_table_points_at_functions_citing_the_labels(chapter, labels, names):
    defined = defined_labels()
    for label in labels:
        assert label in defined, f"{chapter}: {label} is not defined in the book"
    cited = set()
    for name in names:
        try:
            obj = resolve(name)
        except (ImportError, AttributeError):
            pytest.fail(f"{chapter}: the Implementation table names {name}, which does not exist")
        assert callable(obj), f"{chapter}: {name} is not a function"
        cited |= cited_labels(obj)
    missing = set(labels) - cited
    assert not missing, f"{chapter}: {', '.join(names)} should cite {sorted(missing)} in its docstring"


def test_every_implemented_function_is_cited_somewhere_in_the_book():
    """Every function whose docstring cites an equation appears in some
    chapter's Implementation table (the book -> code direction)."""
    in_tables = {name for _, _, names in implementation_rows() for name in names}
    model_functions = {
        qualname for qualname, obj in package_objects()
        if cited_labels(obj) and inspect.isfunction(obj) and qualname.count(".") == 2
        and qualname.split(".")[-1] in {"e_step", "m_step", "log_likelihood"}
    }
    missing = sorted(model_functions - in_tables)
    assert not missing, f"no Implementation table shows: {missing}"
