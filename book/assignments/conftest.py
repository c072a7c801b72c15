"""Keep nbval (``pytest book --nbval``) away from the assignment notebooks.

The student versions in this folder are nbgrader's stubs, whose test cells
raise ``NotImplementedError`` by design, and the instructor sources in
``source/`` are stored without outputs. ``tests/test_autograde.py`` grades
both with nbgrader instead (0 points for the stubs, full marks for the
sources' solutions), and ``tests/test_assignments.py`` checks that the
student versions are what nbgrader makes from the sources.
"""

collect_ignore_glob = ["*.ipynb", "source/*/*.ipynb"]
