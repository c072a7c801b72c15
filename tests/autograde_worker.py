"""Grade submissions with nbgrader in one course directory (run by tests/test_autograde.py).

    python tests/autograde_worker.py COURSE_DIR ASSIGNMENT [ASSIGNMENT ...]

``COURSE_DIR`` must already hold ``source/<a>/<a>.ipynb`` and
``submitted/<student>/<a>/<a>.ipynb`` for every assignment ``<a>``. This
runs nbgrader 0.9.6 itself through its Python API (the code behind the
``nbgrader`` command): ``generate_assignment`` (which creates the gradebook),
``autograde`` of every submission and ``generate_feedback`` (for the
submissions named ``mistakes-*``), one assignment
after the other in the same course (one gradebook, one nbgrader import).
It writes ``COURSE_DIR/results.json``: per assignment, the time taken,
nbgrader's warnings, and per student every graded cell's score, maximum and
error, the errors of the other cells, and the plain text of the feedback
page.
"""

from __future__ import annotations

import html
import json
import logging
import re
import sys
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from traitlets.config import Config

TAG = re.compile(r"<[^>]+>")


def plain_text(page: str) -> str:
    """The text of an HTML page: tags removed, entities decoded, whitespace collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(TAG.sub(" ", page)))


class WarningLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def errors_by_cell(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    out = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and gid:
            errs = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]
            out[gid] = errs[0] if errs else None
    return out


def grade(course: Path, assignments: list[str]) -> dict:
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "emtutor-test"
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.Execute.timeout = 120
    api = NbGraderAPI(config=config)
    warnings_log = WarningLog()
    api.log.addHandler(warnings_log)
    results = {}
    for name in assignments:
        start = time.perf_counter()
        warnings_log.messages.clear()
        for step, outcome in [
            ("generate_assignment", lambda: api.generate_assignment(name)),
            ("autograde", lambda: api.autograde(name, "*")),
            # feedback pages for the mistakes only: the tests read their hints
            ("generate_feedback", lambda: api.generate_feedback(name, "mistakes-*")),
        ]:
            result = outcome()
            if not result["success"]:
                raise SystemExit(f"nbgrader {step} {name} failed:\n{result.get('error')}\n{result.get('log')}")
            warnings_log.messages.extend(
                line for line in result.get("log", "").splitlines() if "WARNING" in line
            )
        students = {}
        with Gradebook(config.CourseDirectory.db_url, "emtutor-test") as gb:
            for student_dir in sorted((course / "submitted").iterdir()):
                student = student_dir.name
                if not (student_dir / name).is_dir():
                    continue
                submission = gb.find_submission_notebook(name, name, student)
                errors = errors_by_cell(course / "autograded" / student / name / f"{name}.ipynb")
                feedback = course / "feedback" / student / name / f"{name}.html"
                feedback = plain_text(feedback.read_text()) if feedback.is_file() else None
                students[student] = {
                    "cells": {
                        g.name: {"score": g.score, "max": g.max_score, "error": errors.get(g.name)}
                        for g in submission.grades if g.cell.cell_type == "code"
                    },
                    "other_errors": {k: v for k, v in errors.items()
                                     if v and k not in {g.name for g in submission.grades}},
                    "feedback": feedback,
                }
        warnings = list(dict.fromkeys(m.split("] ", 1)[-1] for m in warnings_log.messages))
        results[name] = {"seconds": time.perf_counter() - start, "warnings": warnings,
                         "students": students}
    return results


if __name__ == "__main__":
    course = Path(sys.argv[1])
    (course / "results.json").write_text(json.dumps(grade(course, sys.argv[2:])))
