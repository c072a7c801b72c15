"""How the built book reads in a browser, at desktop and phone widths.

Stylesheet and doctree changes that tests/test_browser.py checks page by page:

* ``static/emtutor-rendering.css``: a display equation wider than its column
  scrolls sideways with a scrollbar that stays visible (phones hide overlay
  scrollbars); long signatures and inline code wrap instead of widening the
  page; tables and notebook outputs scroll inside the column.
* Punctuation right after inline math (``$K$, where``) is kept on the same
  line as the math: the math and the punctuation go into one
  ``<span class="emtutor-nowrap">``.  The sources write the punctuation
  after the closing ``$``, as in print.
* An equation reference written inside parentheses, ``(:eq:`label`)`` in a
  docstring or ``({eq}`label`)`` in a chapter, would print as ``((2.1))``:
  the parentheses around the reference are dropped.
* NamedTuple fields are left out of the API pages: their only docstring is
  Python's "Alias for field number N", and the class's *Attributes* section
  already describes them.
* Search results: ``static/emtutor-search.js`` (search page only) leaves
  math out of the snippets, which Sphinx takes from the pages' HTML where
  math is still TeX source.
* Package source shown with ``literalinclude`` (a chapter's *Implementation*
  section) has its docstrings replaced by a one-line comment: they are reST
  (roles, double backquotes) that only the API pages render.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "emtutor"

#: Punctuation that must not start a line after inline math.
TRAILING_PUNCTUATION = re.compile(r"^[,.;:!?)\]\u2019\u201d]+")
EQUATION_NUMBER = re.compile(r"^\(\d+(?:\.\d+)*\)$")


def _set_child(parent, index, node):
    """Put ``node`` at ``parent[index]``.

    Not ``parent.replace(old, new)``: that looks ``old`` up with ``==``, and
    Text nodes are strings, so it can hit an earlier Text with the same words.
    """
    parent.children[index] = node
    node.parent = parent


def _index_of(parent, child):
    return next(i for i, node in enumerate(parent.children) if node is child)


def keep_punctuation_with_math(doctree):
    for math in list(doctree.findall(nodes.math)):
        parent = math.parent
        if parent is None or isinstance(parent, nodes.FixedTextElement):
            continue
        index = _index_of(parent, math)
        if index + 1 >= len(parent):
            continue
        following = parent[index + 1]
        if not isinstance(following, nodes.Text):
            continue
        match = TRAILING_PUNCTUATION.match(str(following))
        if not match:
            continue
        rest = str(following)[match.end():]
        group = nodes.inline(classes=["emtutor-nowrap"])
        _set_child(parent, index, group)
        group += math
        group += nodes.Text(match.group(0))
        if rest:
            _set_child(parent, index + 1, nodes.Text(rest))
        else:
            del parent.children[index + 1]


#: What may stand between the references of a list (whitespace normalised).
LIST_SEPARATORS = {",", "and", ", and", "\u2013", "-"}


def _is_equation_ref(node) -> bool:
    if not isinstance(node, nodes.reference):
        return False
    target = node.get("refuri", "") + "#" + node.get("refid", "")
    return bool(EQUATION_NUMBER.match(node.astext())) and "#equation-" in target


def drop_parentheses_around_equation_refs(doctree):
    for ref in list(doctree.findall(nodes.reference)):
        if not _is_equation_ref(ref):
            continue
        parent = ref.parent
        index = _index_of(parent, ref)
        if index == 0 or index + 1 >= len(parent):
            continue
        before = parent[index - 1]
        if not (isinstance(before, nodes.Text) and str(before).endswith("(")):
            continue
        # a list of references, "(:eq:`a`, :eq:`b`)", counts as one
        last = index
        while True:
            # the separator may be several Text nodes (MyST makes a line break one)
            nxt, separator = last + 1, ""
            while nxt < len(parent) and isinstance(parent[nxt], nodes.Text):
                separator += str(parent[nxt])
                nxt += 1
            if (nxt < len(parent) and nxt > last + 1 and _is_equation_ref(parent[nxt])
                    and " ".join(separator.split()) in LIST_SEPARATORS):
                last = nxt
            else:
                break
        after = parent[last + 1] if last + 1 < len(parent) else None
        if isinstance(after, nodes.Text) and str(after).startswith(")"):
            _set_child(parent, index - 1, nodes.Text(str(before)[:-1]))
            _set_child(parent, last + 1, nodes.Text(str(after)[1:]))


def _docstring_lines(source: str) -> list[tuple[int, int, int]]:
    """(first line, last line, indent) of every docstring in ``source`` (1-based)."""
    tree = ast.parse(source)
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                expr = body[0]
                spans.append((expr.lineno, expr.end_lineno, expr.col_offset))
    return spans


def strip_package_docstrings(doctree):
    for block in doctree.findall(nodes.literal_block):
        source = block.get("source", "")
        if not source or Path(source).resolve().parent != PACKAGE:
            continue
        text = block.astext()
        try:
            spans = _docstring_lines(textwrap.dedent(text))
        except SyntaxError:
            continue
        if not spans:
            continue
        lines = text.split("\n")
        for first, last, _ in sorted(spans, reverse=True):
            indent = re.match(r"\s*", lines[first - 1]).group(0)
            lines[first - 1:last] = [f"{indent}# (docstring: see the API reference)"]
        new = "\n".join(lines)
        block[:] = [nodes.Text(new)]
        block.rawsource = new


def on_doctree_resolved(app, doctree, docname):
    if app.builder.format != "html":
        return
    strip_package_docstrings(doctree)
    drop_parentheses_around_equation_refs(doctree)
    keep_punctuation_with_math(doctree)


def skip_namedtuple_fields(app, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if type(obj).__name__ == "_tuplegetter" and re.fullmatch(r"Alias for field number \d+", doc.strip()):
        return True
    return None


def add_search_script(app, pagename, templatename, context, doctree):
    if pagename == "search":  # this page only
        app.add_js_file("emtutor-search.js")


def add_static_path(app):
    app.config.html_static_path.append(str(HERE / "static"))


def setup(app):
    app.connect("builder-inited", add_static_path)
    app.add_css_file("emtutor-rendering.css")
    app.connect("html-page-context", add_search_script)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("autodoc-skip-member", skip_namedtuple_fields)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
