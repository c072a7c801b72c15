"""The doctree changes of _ext/emtutor_rendering.py on small hand-made paragraphs."""

import sys
from pathlib import Path

from docutils import nodes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_ext"))
import emtutor_rendering as rendering  # noqa: E402


def _eq_ref(number):
    return nodes.reference("", number, refuri=f"page.html#equation-{number}", internal=True)


def test_parentheses_around_an_equation_reference_are_dropped_and_nothing_else():
    # an earlier " (" with the same text must stay: Text nodes compare as strings
    para = nodes.paragraph("", "", nodes.Text("factor "), nodes.literal("", "P_k"), nodes.Text(" ("),
                           nodes.literal("", "inv(S)"), nodes.Text(") and term "), nodes.literal("", "|x P_k|"),
                           nodes.Text(" ("), _eq_ref("(29.1)"), nodes.Text("); for diagonal ones "),
                           _eq_ref("(29.2)"), nodes.Text("."))
    doc = nodes.document(None, None)
    doc += para
    rendering.drop_parentheses_around_equation_refs(doc)
    assert para.astext() == "factor P_k (inv(S)) and term |x P_k| (29.1); for diagonal ones (29.2)."


def test_punctuation_after_inline_math_is_kept_with_it_and_nothing_else():
    # the ", " after the code comes first and must stay where it is
    para = nodes.paragraph("", "", nodes.literal("", "x"), nodes.Text(", "), nodes.math("", "a"), nodes.Text(", "),
                           nodes.math("", "b"), nodes.Text(", where x, y"), nodes.math("", "c"), nodes.Text(" ok"))
    doc = nodes.document(None, None)
    doc += para
    before = para.astext()
    rendering.keep_punctuation_with_math(doc)
    assert para.astext() == before
    groups = list(para.findall(lambda n: isinstance(n, nodes.inline) and "emtutor-nowrap" in n["classes"]))
    assert [g.astext() for g in groups] == ["a,", "b,"]
    assert str(para[1]) == ", "
    assert all(isinstance(g[0], nodes.math) for g in groups)


def test_docstrings_of_included_package_source_are_replaced_by_a_comment():
    source = str(rendering.PACKAGE / "gmm.py")
    code = 'def f(x):\n    """Sum (:eq:`e`) of ``x``."""\n    return x + 1\n'
    block = nodes.literal_block(code, code, source=source)
    doc = nodes.document(None, None)
    doc += block
    rendering.strip_package_docstrings(doc)
    assert block.astext() == "def f(x):\n    # (docstring: see the API reference)\n    return x + 1\n"


def test_parentheses_around_a_list_of_equation_references_are_dropped():
    para = nodes.paragraph("", "", nodes.Text("never decreases ("), _eq_ref("(4.6)"), nodes.Text(","), nodes.Text("\n"),
                           _eq_ref("(4.7)"), nodes.Text(") and ("), _eq_ref("(6.4)"), nodes.Text(" for HMMs)."))
    doc = nodes.document(None, None)
    doc += para
    rendering.drop_parentheses_around_equation_refs(doc)
    # a parenthesis that holds more than references stays
    assert para.astext() == "never decreases (4.6),\n(4.7) and ((6.4) for HMMs)."
