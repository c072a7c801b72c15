"""Generate the student versions of the assignments with nbgrader.

The repository keeps the *instructor* versions in ``book/assignments/``
(solutions included, executed, compared by nbval).  This script copies them
into a throw-away nbgrader course directory (``source/<name>/<name>.ipynb``
plus a generated ``nbgrader_config.py``), runs
``nbgrader generate_assignment "*" --no-db`` on them, and copies nbgrader's
``release/`` folder to the output directory, so the student versions are
exactly what nbgrader produces: solution regions replaced by
``raise NotImplementedError()`` / "YOUR ANSWER HERE", hidden tests removed,
outputs cleared, read-only and test cells checksummed.

Usage: ``python tools/generate_assignments.py [OUT_DIR]`` (default
``_build/assignments``), or ``make assignments``.
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
SOURCE = ROOT / "book" / "assignments"

CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "emtutor"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db_url!r}
"""


def generate(out_dir: Path, source: Path = SOURCE) -> list[Path]:
    """Write ``out_dir/<name>/<name>.ipynb`` for every ``source/<name>.ipynb``; return their paths."""
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no assignment notebooks in {source}")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="emtutor-nbgrader-") as tmp:
        course = Path(tmp)
        for nb in notebooks:
            (course / "source" / nb.stem).mkdir(parents=True)
            shutil.copy(nb, course / "source" / nb.stem / nb.name)
        (course / "nbgrader_config.py").write_text(
            CONFIG.format(root=str(course), db_url=f"sqlite:///{course / 'gradebook.db'}")
        )
        bin_dir = Path(sys.executable).parent  # nbgrader runs `alembic` from PATH
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        # one run for all assignments; --no-db: a student version needs no gradebook
        # (nbgrader's SaveCells only records the cells in the database)
        subprocess.run(
            [str(bin_dir / "nbgrader"), "generate_assignment", "*", "--no-db", "--force",
             "--log-level=WARN"],
            cwd=course, env=env, check=True,
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(course / "release", out_dir)
    return [out_dir / nb.stem / nb.name for nb in notebooks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=str(ROOT / "_build" / "assignments"))
    for path in generate(Path(parser.parse_args().out_dir)):
        print(f"student version: {path}")


if __name__ == "__main__":
    main()
