"""The assignments' instructor sources and mistake catalogue, for the tests.

Layout (see book/instructors.md):

- ``book/assignments/source/<name>/<name>.ipynb``: the instructor sources in
  nbgrader's format (solutions, model answers); never part of the built book.
- ``book/assignments/<name>.ipynb``: the student versions nbgrader generates
  from them (``make assignments``); the book shows these.
- ``tests/assignment_mistakes/<name>/<mistake>.py``: one typical mistake each,
  the replacement for one solution cell. Its docstring's first line says what
  is wrong, ``cell:`` names the solution cell it replaces and ``hint:`` the
  text the feedback must contain.
- ``tests/assignment_alternatives/<name>/<solution>.py``: correct solutions
  written differently from the instructor's (loops, log space, other
  identities), in the same format without ``hint:``; they must get full
  credit.

Grading conventions the tests rely on: the test cell of solution cell ``X``
is ``X-tests``; the integration cell (points only when every part is right)
is ``<prefix>-integration``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS_DIR = ROOT / "book" / "assignments"
SOURCE_DIR = ASSIGNMENTS_DIR / "source"
MISTAKES_DIR = Path(__file__).resolve().parent / "assignment_mistakes"
ALTERNATIVES_DIR = Path(__file__).resolve().parent / "assignment_alternatives"
ASSIGNMENTS = sorted(p.name for p in SOURCE_DIR.iterdir() if (p / f"{p.name}.ipynb").is_file())
MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def source_path(name: str) -> Path:
    return SOURCE_DIR / name / f"{name}.ipynb"


def student_path(name: str) -> Path:
    return ASSIGNMENTS_DIR / f"{name}.ipynb"


def read(path: Path):
    return nbformat.read(path, as_version=4)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def grade_id(cell) -> str:
    return nbgrader(cell).get("grade_id", "")


def is_code_solution(cell) -> bool:
    return cell.cell_type == "code" and nbgrader(cell).get("solution", False)


def is_test(cell) -> bool:
    return cell.cell_type == "code" and nbgrader(cell).get("grade", False)


def solution_code(cell) -> str:
    """A solution cell as a student who got it right would hand it in (no markers)."""
    return MARKER_LINE.sub("", cell.source + "\n").rstrip("\n")


def integration_id(nb) -> str:
    (cell,) = [c for c in nb.cells if is_test(c) and grade_id(c).endswith("-integration")]
    return grade_id(cell)


@dataclass(frozen=True)
class Mistake:
    assignment: str
    name: str
    summary: str
    cell: str  # grade_id of the solution cell it replaces
    hint: str | None  # text the feedback must contain
    source: str  # the replacement cell

    @property
    def test_cell(self) -> str:
        return f"{self.cell}-tests"


def mistakes(assignment: str, folder: Path = MISTAKES_DIR) -> list[Mistake]:
    """The catalogue of one assignment (``folder``: the mistakes, or the alternatives)."""
    out = []
    for path in sorted((folder / assignment).glob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        doc = ast.get_docstring(tree)
        assert doc, f"{path} needs a docstring with cell: and hint:"
        fields = dict(re.findall(r"^(cell|hint):\s*(.*?)\s*$", doc, re.M))
        body = "\n".join(text.splitlines()[tree.body[0].end_lineno:]).strip("\n")
        out.append(Mistake(assignment, path.stem, doc.splitlines()[0], fields["cell"],
                           fields.get("hint") or None, body))
    return out


def mistake_groups(assignment: str) -> list[list[Mistake]]:
    """The catalogue packed into submissions with at most one mistake per cell.

    Every part is graded on inputs of its own, so mistakes in different
    functions may share a submission: each still fails its own test cell and
    no other (the integration cell fails in every one of them).
    """
    groups: list[list[Mistake]] = []
    for mistake in mistakes(assignment):
        for group in groups:
            if all(m.cell != mistake.cell for m in group):
                group.append(mistake)
                break
        else:
            groups.append([mistake])
    return groups


def submission(assignment: str, replacements: dict | None = None, *, solved: bool = True):
    """The student version with every code solution cell filled in (or not).

    ``solved=False`` is the notebook as released; otherwise each code
    solution cell holds the instructor's solution, except the cells named in
    ``replacements`` (grade_id -> source).
    """
    nb = read(student_path(assignment))
    if not solved:
        return nb
    solutions = {grade_id(c): solution_code(c) for c in read(source_path(assignment)).cells
                 if is_code_solution(c)}
    replacements = replacements or {}
    unknown = set(replacements) - set(solutions)
    assert not unknown, f"no solution cells {unknown} in {assignment}"
    for cell in nb.cells:
        if is_code_solution(cell):
            cell.source = replacements.get(grade_id(cell), solutions[grade_id(cell)])
    return nb


def grade_in_process(nb) -> dict:
    """Run a notebook's code cells in one namespace; return ``{grade_id: error or None}`` of its test cells.

    A light stand-in for nbgrader autograde (which tests/test_autograde.py
    runs for real): cells run in order, a test cell passes when it raises
    nothing.
    """
    namespace = {"__name__": "__main__"}
    results = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)  # noqa: S102
            error = None
        except Exception as exc:  # noqa: BLE001 - what a student's cell raises
            error = f"{type(exc).__name__}: {exc}"
        if is_test(cell):
            results[grade_id(cell)] = error
        else:
            assert error is None, f"cell {grade_id(cell)} failed: {error}"
    return results
