"""Stand-in that makes ``import rfc3987_syntax`` fail, for tests/autograde_worker.py.

jsonschema imports the optional rfc3987-syntax package (when installed) to
check the "iri" string format; importing it compiles a Lark grammar, about
4 s of CPU in every process that imports nbformat or jsonschema: the
autograde worker and nbgrader's ``alembic`` subprocess. nbformat's schemas
use no string formats, so jsonschema without it (it catches the ImportError)
validates notebooks exactly as before. The worker runs with this folder first
on PYTHONPATH.
"""

raise ImportError("rfc3987_syntax is disabled in the autograde test (see tests/autograde_stubs)")
