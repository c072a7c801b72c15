"""Nothing the built book serves contains an assignment's solution.

``make test`` builds the book into ``_build/html`` first. Every file there
(pages, ``_sources``, the ``.ipynb`` downloads, the search index, ...) is
read as text and must not contain nbgrader's solution or hidden-test
markers, nor any sentence of a model answer (runs of eight or more words,
taken from the written answers of ``book/assignments/source`` and
compared with markup, case and typography removed). The assignment pages and
their sources must also hold no line of the solution code (the chapters may:
they teach the reference implementations). A test feeds the scanner a
leaking build to show that it notices.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

import assignment_support as support

HTML_DIR = support.ROOT / "_build" / "html"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "### BEGIN")
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                            "\u2014": "-", "*": " ", "`": " "})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(TYPOGRAPHY)).strip().lower()


def readable(path: Path) -> str | None:
    """A served file as the text a reader could find in it (None for binary files)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    if path.suffix == ".html":
        raw = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", raw, flags=re.S | re.I)
        return html.unescape(re.sub(r"<[^>]+>", " ", raw)) + "\n" + raw
    if path.suffix == ".ipynb":
        cells = json.loads(raw).get("cells", [])
        return "\n".join("".join(c.get("source", "")) for c in cells) + "\n" + raw
    return raw


def model_answer_phrases() -> set[str]:
    """Runs of eight or more words (outside math) of every written model answer."""
    phrases = set()
    for name in support.ASSIGNMENTS:
        for cell in support.read(support.source_path(name)).cells:
            if cell.cell_type == "markdown" and support.nbgrader(cell).get("solution"):
                for piece in MATH.split(cell.source):
                    for sentence in re.split(r"[.;:()]", piece):
                        words = normalise(sentence).split()
                        if len(words) >= 8:
                            phrases.add(" ".join(words))
    return phrases


def solution_lines() -> set[str]:
    """The lines of the code solutions that are long enough to be telling."""
    lines = set()
    for name in support.ASSIGNMENTS:
        for cell in support.read(support.source_path(name)).cells:
            for region in SOLUTION_REGION.findall(cell.source):
                lines.update(normalise(line) for line in region.splitlines() if len(line.strip()) >= 25)
    return lines


def leaks(root: Path) -> list[str]:
    """Every solution marker, model-answer phrase or solution line found under ``root``."""
    phrases, code = model_answer_phrases(), solution_lines()
    assert len(phrases) >= 10 and len(code) >= 20, "the sources must give something to look for"
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = readable(path)
        if text is None:
            continue
        where = path.relative_to(root)
        found += [f"{where}: {marker!r}" for marker in MARKERS if marker in text]
        flat = normalise(text)
        found += [f"{where}: model answer {p!r}" for p in phrases if p in flat]
        if "assignments" in where.parts:
            found += [f"{where}: solution line {line!r}" for line in code if line in flat]
    return found


def test_the_built_book_serves_no_solution():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built book in {HTML_DIR}: run `make book` first (`make test` does)")
    pages = [HTML_DIR / "book" / "assignments" / f"{name}.html" for name in support.ASSIGNMENTS]
    assert all(p.is_file() for p in pages), "the book shows every assignment"
    assert all("NotImplementedError" in p.read_text() for p in pages), "as its student version"
    assert leaks(HTML_DIR) == []


def test_the_scanner_notices_a_leak(tmp_path):
    """A build that served an instructor source, or quoted a model answer, is caught."""
    (tmp_path / "clean.html").write_text("<p>Nothing to see.</p>")
    assert leaks(tmp_path) == []
    source = support.source_path("gmm_steps")
    (tmp_path / "_sources" / "assignments").mkdir(parents=True)
    (tmp_path / "_sources" / "assignments" / "gmm_steps.ipynb").write_text(source.read_text())
    answer = next(c.source for c in support.read(source).cells
                  if c.cell_type == "markdown" and support.nbgrader(c).get("solution"))
    quoted = html.escape(answer.replace("'", "\u2019")).replace("\n", " <em>\n</em>")
    (tmp_path / "page.html").write_text(f"<html><body><p>{quoted}</p></body></html>")
    found = leaks(tmp_path)
    assert any(f.startswith("_sources/assignments/gmm_steps.ipynb: 'BEGIN SOLUTION'") for f in found)
    assert any(f.startswith("_sources/assignments/gmm_steps.ipynb: solution line") for f in found)
    assert any(f.startswith("page.html: model answer") for f in found)
