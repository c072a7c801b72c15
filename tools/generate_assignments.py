"""Generate the assignments' student versions with nbgrader, and a course directory.

The instructor sources (solutions, model answers) live in
``book/assignments/source/<name>/<name>.ipynb``: nbgrader's ``source/``
layout, excluded from the book (``_config.yml``). The book shows the
*student* versions ``book/assignments/<name>.ipynb``, which are exactly what
``nbgrader generate_assignment`` releases: solution regions replaced by
``raise NotImplementedError()`` / "YOUR ANSWER HERE", outputs cleared, read-only
and test cells checksummed. They are committed, and a test
(``tests/test_assignments.py``) fails when they are older than the sources.

``python tools/generate_assignments.py`` (``make assignments``):

1. runs ``nbgrader generate_assignment "*" --no-db`` on a copy of the sources
   in a throw-away course directory and writes the results to
   ``book/assignments/<name>.ipynb``;
2. writes ``_build/course/``, a fresh nbgrader course directory
   (``nbgrader_config.py`` plus ``source/`` with the instructor sources) in
   which an instructor continues with ``nbgrader generate_assignment``,
   ``autograde`` and ``generate_feedback`` (see ``book/instructors.md``).

``--check`` only compares: it exits with status 1 and names the student
versions that differ from what the sources generate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "book" / "assignments"
SOURCE = ASSIGNMENTS / "source"
COURSE = ROOT / "_build" / "course"

COURSE_CONFIG = """\
# nbgrader configuration of a course made by `make assignments` (tools/generate_assignments.py).
# Run nbgrader from this directory with the project's environment active
# (`source .venv/bin/activate`): nbgrader runs `alembic` from PATH when it
# creates gradebook.db.
c = get_config()
c.CourseDirectory.course_id = "emtutor"
"""


def sources(source: Path = SOURCE) -> list[Path]:
    """The instructor notebooks ``source/<name>/<name>.ipynb``."""
    found = sorted(p / f"{p.name}.ipynb" for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())
    if not found:
        raise SystemExit(f"no assignment sources in {source}")
    return found


def nbgrader_env() -> dict:
    """The environment for nbgrader: this interpreter's bin/ first on PATH."""
    bin_dir = Path(sys.executable).parent
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def generate(out_dir: Path, source: Path = SOURCE) -> dict[str, Path]:
    """Write nbgrader's student version of every source to ``out_dir/<name>.ipynb``.

    Returns ``{name: path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory(prefix="emtutor-nbgrader-") as tmp:
        course = Path(tmp)
        shutil.copytree(source, course / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        (course / "nbgrader_config.py").write_text(COURSE_CONFIG)
        # --no-db: a student version needs no gradebook (nbgrader only records the cells there)
        subprocess.run(
            [str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", "*", "--no-db",
             "--force", "--log-level=WARN"],
            cwd=course, env=nbgrader_env(), check=True,
        )
        for nb in sources(source):
            name = nb.stem
            target = out_dir / f"{name}.ipynb"
            shutil.copyfile(course / "release" / name / f"{name}.ipynb", target)
            written[name] = target
    return written


def stale(source: Path = SOURCE, book: Path = ASSIGNMENTS) -> list[str]:
    """Names whose committed student version differs from what the source generates."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), source)
        return [name for name, path in fresh.items()
                if not (book / path.name).is_file() or (book / path.name).read_bytes() != path.read_bytes()]


def make_course(course: Path = COURSE, source: Path = SOURCE) -> Path:
    """A fresh nbgrader course directory holding the instructor sources."""
    if course.exists():
        shutil.rmtree(course)
    shutil.copytree(source, course / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG)
    return course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report student versions that are out of date (exit status 1)")
    args = parser.parse_args()
    if args.check:
        names = stale()
        for name in names:
            print(f"out of date: book/assignments/{name}.ipynb (run `make assignments`)")
        raise SystemExit(1 if names else 0)
    for name, path in generate(ASSIGNMENTS).items():
        print(f"student version: {path.relative_to(ROOT)}")
    course = make_course()
    print(f"nbgrader course directory with the instructor sources: {course.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
