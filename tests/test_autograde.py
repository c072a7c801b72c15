"""The assignments graded end to end by nbgrader, as a course would grade them.

For each assignment, in a temporary nbgrader course: the instructor source
in ``source/``; submissions made from the student version the book serves:
the notebook unchanged, the instructor's solutions (``correct``), and the
mistake catalogue ``tests/assignment_mistakes/<assignment>/`` packed into a
few submissions with at most one mistake per graded function (every part is
graded on inputs of its own, so each mistake must fail its own test cell and
nothing else but the integration cell). nbgrader 0.9.6 generates the
assignment (creating the gradebook), autogrades every submission and
generates the feedback, through ``tests/autograde_worker.py``; the
assignments are spread over a few worker processes, each with one course.

Checked: the unchanged notebook gets 0 points, the correct one full marks;
each mistake loses exactly the points of the function it breaks plus the
integration point, and its feedback page contains the catalogue's hint; no
nbgrader warning (in particular none about changed checksums).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time

import nbformat
import pytest

import assignment_support as support

WORKER = support.ROOT / "tests" / "autograde_worker.py"
#: Worker processes (one course each): nbgrader runs one kernel at a time, so
#: assignments are graded side by side, one worker per CPU.
N_WORKERS = int(os.environ.get("EMTUTOR_AUTOGRADE_WORKERS", max(2, min(5, os.cpu_count() or 2))))
STUBS = support.ROOT / "tests" / "autograde_stubs"


def _schedule(names, n_workers):
    """Split the assignments over the workers, the ones with most submissions first."""
    size = {name: 2 + len(support.mistake_groups(name)) for name in names}
    bins = [[] for _ in range(min(n_workers, len(names)))]
    for name in sorted(names, key=size.get, reverse=True):
        min(bins, key=lambda b: sum(size[n] for n in b)).append(name)
    return bins


def _write_course(course, names):
    for name in names:
        (course / "source" / name).mkdir(parents=True)
        shutil.copyfile(support.source_path(name), course / "source" / name / f"{name}.ipynb")
        submissions = {"unchanged": support.submission(name, solved=False), "correct": support.submission(name)}
        for i, group in enumerate(support.mistake_groups(name), start=1):
            submissions[f"mistakes-{i}"] = support.submission(name, {m.cell: m.source for m in group})
        for student, nb in submissions.items():
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("courses")
    bin_dir = os.path.dirname(sys.executable)  # nbgrader runs `alembic` from PATH
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(STUBS), os.environ.get("PYTHONPATH")])))
    start, cpu_start = time.perf_counter(), _children_cpu()
    running = []
    for i, names in enumerate(_schedule(support.ASSIGNMENTS, N_WORKERS)):
        course = root / f"course{i}"
        _write_course(course, names)
        running.append((course, subprocess.Popen([sys.executable, str(WORKER), str(course), *names],
                                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 text=True)))
    results = {}
    for course, process in running:
        output, _ = process.communicate(timeout=900)
        assert process.returncode == 0, output[-5000:]
        results.update(json.loads((course / "results.json").read_text()))
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    n_notebooks = sum(len(r["students"]) for r in results.values())
    print(f"\nnbgrader end to end: {n_notebooks} submissions of {len(results)} assignments in {seconds:.1f} s "
          f"({cpu:.1f} s of CPU) with {len(running)} workers: "
          + ", ".join(f"{n} {r['seconds']:.1f} s" for n, r in results.items()))
    return results


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_unchanged_notebook_gets_zero_points(graded, name):
    student = graded[name]["students"]["unchanged"]
    assert sum(c["score"] for c in student["cells"].values()) == 0
    for cell, result in student["cells"].items():
        assert result["error"] and result["error"].startswith("NotImplementedError"), (cell, result)
    # the cells a student runs as given (imports, data) work
    assert student["other_errors"] == {}


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_correct_solutions_get_full_marks(graded, name):
    student = graded[name]["students"]["correct"]
    assert {c: r["error"] for c, r in student["cells"].items() if r["error"]} == {}
    assert all(r["score"] == r["max"] > 0 for r in student["cells"].values())
    assert student["other_errors"] == {}


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_nbgrader_has_nothing_to_warn_about(graded, name):
    """In particular no "Attribute 'checksum' for cell ... has changed!": see book/instructors.md."""
    assert graded[name]["warnings"] == []


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_each_mistake_costs_its_function_and_the_integration_point_and_gets_its_hint(graded, name):
    integration = support.integration_id(support.read(support.source_path(name)))
    problems, hits, total = [], 0, 0
    for i, group in enumerate(support.mistake_groups(name), start=1):
        student = graded[name]["students"][f"mistakes-{i}"]
        cells = student["cells"]
        failed = {c for c, r in cells.items() if r["error"]}
        expected = {m.test_cell for m in group} | {integration}
        if failed != expected:
            problems.append(f"mistakes-{i}: failed {sorted(failed)}, expected {sorted(expected)}")
        for cell, result in cells.items():
            if result["score"] != (0 if cell in expected else result["max"]):
                problems.append(f"mistakes-{i}: {cell} scored {result['score']} of {result['max']}")
        for mistake in group:
            total += 1
            if mistake.hint and mistake.hint in student["feedback"]:
                hits += 1
            else:
                problems.append(f"{mistake.name}: hint {mistake.hint!r} not in the feedback; the cell "
                                f"said {cells[mistake.test_cell]['error']!r}")
    print(f"{name}: {total} mistakes, {hits} specific hints ({hits / total:.0%})")
    assert total >= 12
    assert hits >= 0.9 * total
    assert problems == []
