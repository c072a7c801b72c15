"""Keep the built book renderable without a network.

Notebook outputs are raw HTML written by other libraries, and some of them
link a CDN.  matplotlib's ``to_jshtml`` animations, for one, start with a
``<link>`` to Font Awesome 4 on maxcdn for their button icons; the book's
theme already ships Font Awesome (its ``fontawesome.js`` draws ``fa fa-*``
icons), so that link is removed.  Any other ``<script src>``, ``<link
href>`` or ``<img src>`` pointing at another host in an output is reported
as a warning, which ``make book`` (``--warningiserror``) turns into a
failed build.  The browser test (tests/test_browser.py) checks the result
in Chromium with every non-local request blocked.

It also removes script tags that appear twice on a page.  Sphinx 7.4 adds
an inline script registered after the builder started (sphinx-thebe's
``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector) a second time
when it prepares writing (``None`` and ``""`` file names compare unequal),
and declaring the same ``const`` twice is a JavaScript error on every page.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Tags whose job the book's own static files already do, so they are dropped.
REDUNDANT_TAGS = [
    # Font Awesome 4 stylesheet of matplotlib's JSHTML animation widget.
    re.compile(r"<link\b[^>]*href=[\"']https?://[^\"']*font-awesome[^\"']*[\"'][^>]*>\s*", re.I),
]

EXTERNAL_RESOURCE = re.compile(
    r"<(script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']((?:https?:)?//[^\"']+)[\"']", re.I
)


def strip_and_check_raw_html(app, doctree, docname):
    if app.builder.format != "html":
        return
    for node in doctree.findall(nodes.raw):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        cleaned = text
        for pattern in REDUNDANT_TAGS:
            cleaned = pattern.sub("", cleaned)
        for match in EXTERNAL_RESOURCE.finditer(cleaned):
            logger.warning(
                "HTML output loads <%s> from another host (%s); the book must render "
                "offline: serve it from the build or drop it",
                match.group(1).lower(),
                match.group(2),
                location=node,
                type="emtutor",
                subtype="external_resource",
            )
        if cleaned != text:
            node[:] = [nodes.Text(cleaned)]


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (
            getattr(script, "filename", None) or "",
            tuple(sorted((name, str(value)) for name, value in attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("doctree-resolved", strip_and_check_raw_html)
    # late, after the extensions that add per-page scripts (myst-nb's widgets)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
