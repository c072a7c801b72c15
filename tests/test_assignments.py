"""The assignments: instructor sources in nbgrader's format, and the student versions the book serves.

The sources are ``book/assignments/source/<name>/<name>.ipynb``; the student
versions ``book/assignments/<name>.ipynb`` are nbgrader's output for them,
committed (``make assignments``). Here: the sources follow the grading
conventions (each test cell grades one function with one checker, the
integration cell grades them together, headings state the points), the
student versions are up to date and hold no solution, their links resolve,
headings carry no manual numbers and the notation is the book's.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml

import assignment_support as support
from assignment_support import ROOT, grade_id, is_code_solution, is_test, nbgrader

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
#: Symbols the book does not use for these quantities (book/notation.md).
WRONG_NOTATION = {
    r"\bw_k\b|w_\{k\}": "mixing weights are pi_k",
    r"\ba_\{?ij\}?|\ba_\{ij\}": "transitions are A_ij",
    r"\bb_[kj]\(|b_\{?[kj]\}?\(": "emissions are B_km",
    r"\\gamma_t": "the HMM's state posterior is r_tk",
    r"\\theta_d|\\theta_\{d": "a document's topic proportions are pi_d",
    r"\\beta_\{?k": "the topics are B_kv",
    r"\\Lambda_\{?d": "E_q[log pi_dk] is written out",
}


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_assignments", ROOT / "tools" / "generate_assignments.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sources():
    return {name: support.read(support.source_path(name)) for name in support.ASSIGNMENTS}


def students():
    return {name: support.read(support.student_path(name)) for name in support.ASSIGNMENTS}


def test_there_are_six_assignments():
    assert support.ASSIGNMENTS == ["casino_hmm", "coin_standard_errors", "gmm_steps", "lda_estep", "missing_em",
                                   "two_coins"]


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_sources_follow_the_grading_conventions(name):
    nb = support.read(support.source_path(name))
    ids = [grade_id(c) for c in nb.cells]
    assert all(ids) and len(ids) == len(set(ids)), "every cell has its own grade_id"
    assert [c.id for c in nb.cells] == ids, "cell ids are the grade_ids (stable diffs)"
    solutions = [grade_id(c) for c in nb.cells if is_code_solution(c)]
    integration = support.integration_id(nb)
    for cell in nb.cells:
        if is_code_solution(cell):
            (body,) = SOLUTION_REGION.findall(cell.source)
            starter = SOLUTION_REGION.sub("", cell.source)
            assert re.search(r"^def \w+\(", starter, re.M), f"{grade_id(cell)}: the signature is given"
        if "HIDDEN TESTS" in cell.source:
            pytest.fail(f"{grade_id(cell)}: hidden tests make nbgrader warn at every autograde")
    tests = [c for c in nb.cells if is_test(c)]
    assert [grade_id(c) for c in tests] == [f"{s}-tests" for s in solutions] + [integration]
    for cell in tests:
        calls = re.findall(r"\bchecks\.(check_\w+)\(", cell.source)
        assert len(calls) == 1, f"{grade_id(cell)} grades one function with one checker"
        assert nbgrader(cell)["points"] > 0
    # the integration checker receives every graded function
    names = [re.search(r"^def (\w+)\(", SOLUTION_REGION.sub("", c.source), re.M).group(1)
             for c in nb.cells if is_code_solution(c)]
    (integration_cell,) = [c for c in tests if grade_id(c) == integration]
    arguments = re.search(r"checks\.check_\w+\(([^)]*)\)", integration_cell.source).group(1)
    assert [a.strip() for a in arguments.split(",")] == names
    written = [c for c in nb.cells if c.cell_type == "markdown" and nbgrader(c).get("solution")]
    assert len(written) == 1 and nbgrader(written[0])["grade"] and nbgrader(written[0])["points"] == 1


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_headings_state_the_points_and_carry_no_numbers(name):
    nb = support.read(support.source_path(name))
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for level, title in HEADING.findall(cell.source):
            assert not re.match(r"\d+[.)]?\s", title), f"numbered heading {title!r}: the book numbers them"
            points = re.search(r"\((\d+) points?(, graded by hand)?\)$", title)
            if len(level) == 1:
                assert title.startswith("Assignment: ")
                continue
            assert points, f"heading {title!r} states its points"
            graded = next(c for c in cells[i + 1:] if nbgrader(c).get("grade"))
            assert nbgrader(graded)["points"] == int(points.group(1)), title
            assert (graded.cell_type == "markdown") == bool(points.group(2)), title


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_notation_is_the_books(name):
    text = "\n".join(c.source for c in support.read(support.source_path(name)).cells if c.cell_type == "markdown")
    for pattern, rule in WRONG_NOTATION.items():
        found = re.findall(pattern, text)
        assert not found, f"{found}: {rule}"


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_the_visible_cells_do_not_show_how_to_call_emtutors_solution(name):
    """Given and test cells use emtutor only through emtutor.checks."""
    for cell in support.read(support.source_path(name)).cells:
        if cell.cell_type != "code" or is_code_solution(cell):
            continue
        assert not re.search(r"\bemtutor\.(?!checks\b)\w+|from emtutor import (?!checks\s*$)", cell.source, re.M), \
            grade_id(cell)
        assert not re.search(r"\b(gmm|hmm|hmm_core|coins|missing|lda|mixture|datasets)\.\w+", cell.source), \
            grade_id(cell)


def test_the_student_versions_are_what_nbgrader_makes_from_the_sources():
    stale = load_generator().stale()
    assert stale == [], f"out of date: {stale}; run `make assignments`"


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_the_student_version_holds_no_solution(name):
    source, student = support.read(support.source_path(name)), support.read(support.student_path(name))
    assert len(student.cells) == len(source.cells)
    text = "\n".join(c.source for c in student.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "### BEGIN"):
        assert marker not in text
    given = "\n".join(SOLUTION_REGION.sub("", c.source) for c in source.cells)
    solution_lines = {
        line.strip() for c in source.cells for region in SOLUTION_REGION.findall(c.source)
        for line in region.splitlines() if re.search(r"[A-Za-z0-9]", line) and not line.strip().startswith("#")
    }
    leaked = [line for line in solution_lines if line in text and line not in given]
    assert not leaked, f"solution lines in the student version: {leaked}"
    for src, stu in zip(source.cells, student.cells):
        if is_code_solution(src):
            assert "raise NotImplementedError()" in stu.source
        elif nbgrader(src).get("solution"):  # written answer: the model answer is gone
            assert stu.source.strip() == "YOUR ANSWER HERE"
        else:
            assert stu.source == src.source
        if stu.cell_type == "code":
            assert stu.outputs == []


def repository_prefix() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return f"{config['url'].rstrip('/')}/blob/{config['branch']}/"


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_links_in_the_released_notebooks_resolve(name):
    """A released notebook travels alone: its links point at the book's chapters in the repository."""
    prefix = repository_prefix()
    links = [url for c in support.read(support.student_path(name)).cells if c.cell_type == "markdown"
             for url in LINK.findall(c.source)]
    assert links, "each assignment links to its chapters"
    for url in links:
        assert url.startswith(prefix), f"{url}: not a link into {prefix} (relative links break once released)"
        assert (ROOT / url[len(prefix):].split("#")[0]).is_file(), f"{url}: no such file in the repository"


def test_the_instructors_page_lists_every_assignment_with_its_points():
    page = (ROOT / "book" / "instructors.md").read_text()
    for name, nb in sources().items():
        auto = sum(nbgrader(c)["points"] for c in nb.cells if is_test(c))
        manual = sum(nbgrader(c)["points"] for c in nb.cells if nbgrader(c).get("grade") and c.cell_type == "markdown")
        row = re.search(rf"^\|.*assignments/{name}\b.*\|\s*{auto} \+ {manual} written\s*\|$", page, re.M)
        assert row, f"book/instructors.md: a table row for {name} with {auto} + {manual} written"
