"""Every page of the built book, checked in a real browser.

``make test`` builds the book into ``_build/html`` first; this module serves
that folder on 127.0.0.1 and opens every page in Debian's Chromium through
Playwright, with every request to another host blocked and recorded.  For
each page it checks:

* the server answers 200 and no local file the page loads is missing;
* no request to a non-local host was needed (MathJax, widget scripts and
  fonts are all served from the build);
* every math element was typeset by MathJax (has an ``mjx-container``) and
  none is a MathJax error (``merror``);
* every image loaded (``naturalWidth > 0``);
* every internal link points to a file of the build, and its ``#fragment``
  to an element of that file;
* the browser console shows no error outside :data:`CONSOLE_ALLOWLIST`;
* a page made from a notebook offers that notebook for download;
* on a page with its own bibliography, citations link into that list;
* on a page with a matplotlib JSHTML animation, clicking "Next frame"
  changes the frame; on a page with saved ipywidgets, every widget is drawn
  and visible;
* on a page with saved ipywidgets, pressing every button and moving every
  slider raises no page error (a static page has no kernel: dead controls
  throw in the widget manager, as the EM explorer's Play did).

Then, with every ``<details>``, solution and dropdown opened, what a reader
sees is measured at 1366x900 and at a phone's 390x844 by the detectors of
``tests/browser_checks.js``.  A page fails on:

* TeX commands, ``$...$`` pairs, MyST roles (``{eq}``...) or reST roles in
  prose outside math, or reST markup in displayed code;
* a display equation wider than its column at desktop width; at phone width,
  one that is wider and does not scroll, or scrolls with no visible scrollbar;
  at either width, one cut off on the left (where no scrollbar reaches);
* a table caption running out of view (a table that scrolls sideways);
* a page wider than the phone's viewport;
* at phone width, a menu button that does not open a drawer listing every
  chapter of the table of contents;
* a notebook figure stored at less than twice the width it is shown at
  (SVG exempt), or whose alt text is missing or a file name;
* ``<function <lambda>>`` or "Alias for field number" in the text;
* punctuation starting a line right after inline math;
* an equation reference in doubled parentheses "((2.1))" or without its
  chapter ("(4)"), a heading numbered twice ("24.1. 1. ...").

The search page's result snippets are checked for raw TeX the same way.

Each of these detectors is shown to fire on a page with exactly its defect
(``tests/browser_fixtures/``, and a copy of the build with a dead menu
button); ``clean.html`` shows that none fires on a page without one.

The animation and widget checks run on every book page that has such
output.  So that they also run while no chapter has any, a two-page fixture
book (a JSHTML animation and a saved widget, made in this process without a
kernel) is built with the book's own ``_config.yml`` and checked the same
way.  Every page is photographed at both widths into
``_build/screenshots/{desktop,phone}/`` (the whole page with
``EMTUTOR_SCREENSHOTS=full``).

Without Chromium (a reader's laptop) the module is skipped with a message
saying how to install it; CI sets ``EMTUTOR_REQUIRE_BROWSER=1``, which turns
a missing browser into a failure.
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML_DIR = ROOT / "_build" / "html"
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("EMTUTOR_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("EMTUTOR_REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A laptop, and a phone (an iPhone 12-15 in CSS pixels).
VIEWPORT = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The detectors of what a reader sees (raw markup, wide equations, figures,
#: page width, the phone drawer...), shared with the fixture tests below.
CHECKS_JS = (Path(__file__).resolve().parent / "browser_checks.js").read_text(encoding="utf-8")
FIXTURES = Path(__file__).resolve().parent / "browser_fixtures"
#: Every page is photographed at both widths into _build/screenshots/{desktop,phone}/:
#: the first screen by default, the whole page with EMTUTOR_SCREENSHOTS=full
#: (slower: about 3 s a page more on a 2-core machine).
FULL_SCREENSHOTS = os.environ.get("EMTUTOR_SCREENSHOTS", "") == "full"

#: Console messages of type "error" that do not fail a page: (regex, reason).
CONSOLE_ALLOWLIST: list[tuple[str, str]] = [
    # (none yet: every console error so far has been a real problem)
]

# Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads"}


def discover_pages(root: Path) -> list[str]:
    """Every HTML page of a build, as paths relative to ``root``."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if path.relative_to(root).parts[0] not in ASSET_DIRS
    )


PAGES = discover_pages(HTML_DIR) if HTML_DIR.is_dir() else []


# --------------------------------------------------------------------------
# Fixtures: the browser, a local server, the fixture book
# --------------------------------------------------------------------------


def _missing_browser(reason: str):
    message = (
        f"{reason}. The browser test needs Chromium at {CHROMIUM} "
        "(Debian/Ubuntu: `sudo apt-get install -y chromium`; elsewhere set "
        "EMTUTOR_CHROMIUM=/path/to/chromium)."
    )
    if REQUIRE_BROWSER:
        pytest.fail(message + " EMTUTOR_REQUIRE_BROWSER is set, so this is a failure.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements.txt pins it
        _missing_browser(f"the playwright package is not importable ({exc})")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing_browser(f"no Chromium executable at {CHROMIUM}")
    with sync_playwright() as playwright:
        # Playwright hides scrollbars in headless mode (--hide-scrollbars); a
        # reader sees them, and the phone check measures them
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             ignore_default_args=["--hide-scrollbars"])
        yield browser
        browser.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class Site:
    """A built book served on 127.0.0.1 (a free port chosen by the OS)."""

    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, page: str) -> str:
        return f"{self.origin}/{page}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def site(request):
    if not PAGES:
        pytest.fail(f"no built book in {HTML_DIR}: run `make book` first (`make test` does)")
    if NEEDS_FIXTURE_BOOK:
        request.getfixturevalue("fixture_build")  # builds while the pages are checked
    served = Site(HTML_DIR)
    yield served
    served.close()


@pytest.fixture(scope="session")
def context(browser):
    """One browser context; every request to a non-local host is aborted and recorded."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.external_requests = []

    def route(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            ctx.external_requests.append(route.request.url)
            route.abort()

    ctx.route("**/*", route)
    yield ctx
    ctx.close()


# --------------------------------------------------------------------------
# Checking one page
# --------------------------------------------------------------------------


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors: set[str] = set()
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.anchors.add(attrs[name])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            match = re.search(r"url=(.+)", attrs.get("content") or "", re.I)
            self.refresh = match.group(1).strip() if match else None


@functools.lru_cache(maxsize=None)
def parse_static(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def local_file(site: Site, url: str) -> Path | None:
    """The file of the build a same-origin URL points to (None if off-site)."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != site.origin:
        return None
    target = site.root / unquote(parts.path).lstrip("/")
    return target / "index.html" if target.is_dir() else target


# Collects, in one round trip, everything the checks need from the live page.
PAGE_STATE_JS = """
async () => {
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done);
                            img.addEventListener('error', done);
                            setTimeout(done, 10000); })));
  const text = el => el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 80);
  const maths = [...document.querySelectorAll('.math')];
  return {
    math: maths.length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(text),
    merrors: [...document.querySelectorAll('mjx-merror, merror, [data-mjx-error]')]
        .map(e => e.getAttribute('data-mjx-error') || text(e)),
    images: [...document.images].map(img => ({
        src: img.currentSrc.slice(0, 120), ok: img.complete && img.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => ({
        href: a.href, raw: a.getAttribute('href')})),
    ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.name),
    downloads: [...document.querySelectorAll('a.btn-download-source-button')].map(a => a.href),
    citations: [...document.querySelectorAll('.bibtex-citation a')].map(a => a.href),
    bibliography: !!document.querySelector('.citation-list'),
    animations: document.querySelectorAll('.animation').length,
    widget_views: document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]').length,
  };
}
"""


def check_page(context, site: Site, page: str, screenshot: bool = False, use_controls: bool = True) -> dict:
    """Open ``page`` of ``site``; return what was checked, fail on any problem."""
    problems: list[str] = []
    path = site.root / page
    static = parse_static(path)

    if static.refresh is not None:  # a redirect page (the book's top index.html)
        with urllib.request.urlopen(site.url(page)) as response:
            assert response.status == 200, f"{page}: HTTP {response.status}"
        target = (path.parent / static.refresh.split("#")[0]).resolve()
        assert target.is_file(), f"{page}: redirects to missing {static.refresh}"
        return {"redirect": static.refresh}

    console_errors: list[str] = []
    failed_local: list[str] = []
    external_before = len(context.external_requests)
    tab = context.new_page()
    tab.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
    tab.on(
        "requestfailed",
        lambda req: failed_local.append(f"{req.url} ({req.failure})")
        if urlsplit(req.url).hostname == "127.0.0.1"
        else None,
    )
    tab.on(
        "response",
        lambda resp: failed_local.append(f"{resp.url} (HTTP {resp.status})")
        if resp.status >= 400
        else None,
    )
    try:
        response = tab.goto(site.url(page), wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"HTTP {response.status if response else 'no response'}")
        has_math, has_mathjax = tab.evaluate(
            "() => [!!document.querySelector('.math'), !!document.querySelector('script[src*=mathjax]')]"
        )
        if has_math and not has_mathjax:
            problems.append("math on the page but no MathJax script: not typeset")
        elif has_math:
            try:
                tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                      timeout=20000)
                tab.evaluate("() => MathJax.startup.promise")
            except Exception as exc:  # noqa: BLE001 - reported as a page problem
                problems.append(f"MathJax did not start: {exc}".splitlines()[0])
        state = tab.evaluate(PAGE_STATE_JS)

        if state["untypeset"]:
            problems.append(f"{len(state['untypeset'])} of {state['math']} math elements not "
                            f"typeset, e.g. {state['untypeset'][:3]}")
        if state["merrors"]:
            problems.append(f"MathJax errors: {state['merrors'][:5]}")
        broken_images = [img["src"] for img in state["images"] if not img["ok"]]
        if broken_images:
            problems.append(f"images that did not load: {broken_images}")
        problems += check_links(site, page, state)
        if state["bibliography"]:
            # a page with its own reference list cites into it, not elsewhere
            here = urlsplit(site.url(page)).path
            elsewhere = [c for c in state["citations"] if urlsplit(c).path != here]
            if elsewhere:
                problems.append(f"citations link to another page's bibliography: {elsewhere}")
        notebook = (site.root / "_sources" / page).with_suffix(".ipynb")
        if notebook.is_file() and not any(
            href.endswith(".ipynb") for href in state["downloads"]
        ):
            problems.append("page made from a notebook has no .ipynb download button")
        if state["animations"]:
            problems += check_animations(tab)
        if state["widget_views"]:
            problems += check_widgets(tab, state["widget_views"])
            if use_controls:
                problems += use_widget_controls(tab, console_errors)
        problems += check_reading(tab, page, screenshot)
    finally:
        tab.close()

    external = context.external_requests[external_before:]
    if external:
        problems.append(f"requests to other hosts (blocked; the page must render offline): {external}")
    if failed_local:
        problems.append(f"local requests that failed: {failed_local}")
    unexpected = [m for m in console_errors if not any(re.search(p, m) for p, _ in CONSOLE_ALLOWLIST)]
    if unexpected:
        problems.append(f"console errors: {unexpected}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
    return state


def check_reading(tab, page: str, screenshot: bool) -> list[str]:
    """What a reader sees, at desktop and then at phone width (tests/browser_checks.js).

    Every ``<details>``, solution and dropdown is opened first.  At phone
    width the menu button is tapped: the drawer must open and list every
    chapter.
    """
    problems = []
    tab.evaluate(CHECKS_JS)
    tab.evaluate("() => __emtutor.openAll()")
    for mode, viewport in (("desktop", VIEWPORT), ("phone", PHONE)):
        if mode == "phone":
            tab.set_viewport_size(viewport)
            tab.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        found = tab.evaluate("mode => __emtutor.check(mode)", mode)
        for category, items in found.items():
            more = f" (and {len(items) - 6} more)" if len(items) > 6 else ""
            problems.append(f"[{mode}] {category}: " + "; ".join(items[:6]) + more)
    if tab.evaluate("() => !!document.querySelector('.bd-header, .bd-sidebar-primary')"):
        problems += check_drawer(tab)
    if screenshot:
        # after the checks: a full-page screenshot resizes the page while it is taken
        name = page.replace("/", "__").removesuffix(".html") + ".jpg"
        tab.evaluate("() => document.activeElement && document.activeElement.blur()")
        for mode, viewport in (("phone", PHONE), ("desktop", VIEWPORT)):
            tab.set_viewport_size(viewport)
            path = SCREENSHOT_DIR / mode / name
            path.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(path), full_page=FULL_SCREENSHOTS, type="jpeg", quality=60)
    return problems


def check_drawer(tab) -> list[str]:
    """At phone width, tapping the menu button shows the chapter list."""
    toggle = tab.locator("button.primary-toggle:visible, label.primary-toggle:visible").first
    if toggle.count() == 0:
        return ["[phone] drawer: no visible menu button (.primary-toggle)"]
    expected = tab.evaluate("() => document.querySelectorAll('.bd-docs-nav li.toctree-l1').length")
    toggle.click()
    try:
        tab.wait_for_function(
            "n => { const d = __emtutor.drawer(); return d.onScreen && d.visibleLinks >= n; }",
            arg=max(expected, 1), timeout=3000)
    except Exception:  # noqa: BLE001 - reported below
        pass
    seen = tab.evaluate("() => __emtutor.drawer()")
    tab.keyboard.press("Escape")
    if not seen["onScreen"] or seen["visibleLinks"] < max(expected, 1):
        return [f"[phone] drawer: tapping the menu button did not show the chapter list "
                f"(on screen: {seen['onScreen']}, {seen['visibleLinks']} of {expected} chapter links visible)"]
    return []


def use_widget_controls(tab, console_errors: list[str]) -> list[str]:
    """Press every button of every widget and move every slider: no page error."""
    before = len(console_errors)
    widgets = tab.locator(".widget-subarea > .jupyter-widgets")
    buttons = widgets.locator("button:visible")
    for i in range(buttons.count()):
        try:
            buttons.nth(i).click(timeout=2000)
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            console_errors.append(f"could not press widget button {i}: {exc}".splitlines()[0])
        tab.wait_for_timeout(150)
    sliders = widgets.locator(".slider-container .ui-slider-handle:visible, input[type=range]:visible")
    for i in range(sliders.count()):
        try:
            sliders.nth(i).focus()
            tab.keyboard.press("ArrowRight")
            tab.keyboard.press("End")
        except Exception as exc:  # noqa: BLE001
            console_errors.append(f"could not move widget slider {i}: {exc}".splitlines()[0])
    tab.wait_for_timeout(400)
    errors = console_errors[before:]
    if errors:
        del console_errors[before:]
        return [f"page errors when the widget controls are used: {errors[:4]}"]
    return []


def check_links(site: Site, page: str, state: dict) -> list[str]:
    problems = []
    here = site.root / page
    page_ids = set(state["ids"])
    for link in state["links"]:
        href, raw = link["href"], link["raw"]
        if raw in ("#", "") or not href.startswith(("http://", "https://")):
            continue  # javascript:, mailto:, bare "#" toggles
        target = local_file(site, href)
        if target is None:
            continue  # an external link: a reference, not a request
        if not target.is_file():
            problems.append(f"link {raw!r} -> missing file {target.relative_to(site.root)}")
            continue
        fragment = unquote(urlsplit(href).fragment)
        if not fragment:
            continue
        anchors = page_ids if target == here else parse_static(target).anchors
        if fragment not in anchors:
            problems.append(f"link {raw!r} -> no #{fragment} in {target.relative_to(site.root)}")
    return problems


def check_animations(tab) -> list[str]:
    """Clicking "Next frame" must show another frame, with a visible button icon."""
    problems = []
    animations = tab.locator(".animation")
    for i in range(animations.count()):
        animation = animations.nth(i)
        animation.scroll_into_view_if_needed()
        frame = animation.locator("img").first
        slider = animation.locator("input[type=range]").first
        button = animation.locator("button[title='Next frame']")
        if button.count() != 1:
            problems.append(f"animation {i}: no 'Next frame' button")
            continue
        before = (frame.get_attribute("src"), slider.input_value())
        button.click()
        try:
            tab.wait_for_function(
                "([img, src]) => img.getAttribute('src') !== src",
                arg=[frame.element_handle(), before[0]],
                timeout=5000,
            )
        except Exception:  # noqa: BLE001 - reported below
            pass
        after = (frame.get_attribute("src"), slider.input_value())
        if after[0] == before[0] or after[1] == before[1]:
            problems.append(f"animation {i}: 'Next frame' did not change the frame "
                            f"(slider {before[1]} -> {after[1]})")
        icon = button.locator("svg, i").first
        box = icon.bounding_box() if icon.count() else None
        if not box or box["width"] < 4:
            problems.append(f"animation {i}: the 'Next frame' button icon is not drawn")
    return problems


def check_widgets(tab, n_views: int) -> list[str]:
    """Every saved widget view is rendered by the HTML manager and visible."""
    try:
        tab.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea > .jupyter-widgets').length >= n",
            arg=n_views,
            timeout=20000,
        )
    except Exception:  # noqa: BLE001 - reported below
        pass
    rendered = tab.locator(".widget-subarea > .jupyter-widgets")
    if rendered.count() < n_views:
        return [f"{rendered.count()} of {n_views} saved widgets rendered"]
    hidden = [i for i in range(rendered.count()) if not rendered.nth(i).is_visible()]
    return [f"widgets {hidden} rendered but not visible"] if hidden else []


# --------------------------------------------------------------------------
# Pages with special content
# --------------------------------------------------------------------------


def _math_blocks(page: str) -> int:
    return (HTML_DIR / page).read_text(encoding="utf-8").count('<div class="math')


def _math_inline(page: str) -> int:
    return (HTML_DIR / page).read_text(encoding="utf-8").count('<span class="math')


def _has_animation(page: str) -> bool:
    return 'class="animation"' in (HTML_DIR / page).read_text(encoding="utf-8")


def _has_widgets(page: str) -> bool:
    return "application/vnd.jupyter.widget-view+json" in (HTML_DIR / page).read_text(encoding="utf-8")


CHAPTERS = [p for p in PAGES if p.startswith("book/") and not p.startswith("book/api/")]
INTRO_PAGE = "book/introduction.html"
DERIVATION_PAGE = max(
    (p for p in CHAPTERS if p != INTRO_PAGE), key=_math_blocks, default=None
)
ANIMATION_PAGES = [p for p in PAGES if _has_animation(p)]
WIDGET_PAGES = [p for p in PAGES if _has_widgets(p)]
API_MATH_PAGES = [p for p in PAGES if p.startswith("book/api/") and _math_inline(p)]
# The fixture book (below) stands in while the book has no such pages.
NEEDS_FIXTURE_BOOK = not (ANIMATION_PAGES and WIDGET_PAGES)


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES or ["<no build>"])
def test_page(context, site, page):
    check_page(context, site, page, screenshot=True)


def test_the_special_pages_exist():
    """The pages the checks above rely on are really there."""
    assert INTRO_PAGE in PAGES, f"no {INTRO_PAGE} in the build"
    assert DERIVATION_PAGE is not None and _math_blocks(DERIVATION_PAGE) > 0
    # math written in docstrings (:math:) reaches the API pages, where
    # test_page checks that MathJax typeset it
    assert API_MATH_PAGES, "no API page shows math from a docstring"


BROKEN_PAGES = {
    "bad_math.html": (r'<p><span class="math">\(\frac{1}\)</span></p>', "MathJax errors"),
    "no_mathjax.html": (r'<p><span class="math">\(x\)</span></p>', "not typeset"),
    "bad_image.html": ('<img src="missing.png" alt="">', "images that did not load"),
    "bad_link.html": ('<a href="nowhere.html">a</a>', "missing file nowhere.html"),
    "bad_anchor.html": ('<a href="bad_anchor.html#nowhere">a</a>', "no #nowhere"),
    "cdn.html": ('<script src="https://cdn.example.org/lib.js"></script>', "requests to other hosts"),
    "console.html": ('<script>console.error("boom")</script>', "console errors"),
}
MATHJAX = ('<script>window.MathJax = {options: {processHtmlClass: "math"}}</script>'
           '<script defer src="_static/mathjax/tex-chtml.js"></script>')


@pytest.mark.parametrize("name", sorted(BROKEN_PAGES))
def test_the_checks_catch_a_broken_page(context, tmp_path_factory, name):
    """Each check fails on a page with exactly that problem (and MathJax from the build)."""
    body, message = BROKEN_PAGES[name]
    root = tmp_path_factory.mktemp("broken")
    (root / "_static").symlink_to(HTML_DIR / "_static", target_is_directory=True)
    head = "" if name == "no_mathjax.html" else MATHJAX
    (root / name).write_text(f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>")
    served = Site(root)
    try:
        with pytest.raises(AssertionError, match=re.escape(message)):
            check_page(context, served, name)
    finally:
        served.close()


# Each detector of tests/browser_checks.js on a page with exactly its defect
# (tests/browser_fixtures/*.html, MathJax from the build), and on a copy of a
# real page with a broken phone drawer.

FIXTURE_PAGES = sorted(path.name for path in FIXTURES.glob("*.html"))


FIXTURE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<script>window.MathJax = {{options: {{processHtmlClass: "math"}}}}</script>
<script defer src="_static/mathjax/tex-chtml.js"></script>
<script>
  // Narrows paragraph #id until the line breaks right after its math, so that
  // the punctuation after it starts the next line (as it did in the book at
  // some widths), or down to min px if it never does.
  function squeezeUntilPunctuationWraps(id, min) {{
    window.addEventListener("load", () => MathJax.startup.promise.then(() => {{
      const p = document.getElementById(id);
      const math = p.querySelector("mjx-container");
      const mark = document.createRange();
      mark.setStart(math.parentNode.nextSibling, 0);
      mark.setEnd(math.parentNode.nextSibling, 1);
      for (let width = p.offsetWidth; width > min; width--) {{
        p.style.width = width + "px";
        if (mark.getClientRects()[0].top >= math.getBoundingClientRect().bottom - 2) break;
      }}
    }}));
  }}
</script>
</head><body><main style="max-width: 700px; margin: 0 auto; padding: 0 8px">
{body}
</main></body></html>
"""


def _expected(page: Path) -> str:
    match = re.search(r"<!-- expect:(.*?)-->", page.read_text(encoding="utf-8"))
    assert match, f"{page.name} says in <!-- expect: ... --> what the checks must report"
    return match.group(1).strip()


def _make_fixture_images(root: Path, page: Path):
    """The PNGs a fixture page names as fixture-WxH.png, made at that size."""
    from PIL import Image

    for width, height in re.findall(r"fixture-(\d+)x(\d+)\.png", page.read_text(encoding="utf-8")):
        Image.new("RGB", (int(width), int(height)), (200, 220, 240)).save(
            root / f"fixture-{width}x{height}.png")


@pytest.mark.parametrize("name", FIXTURE_PAGES)
def test_each_detector_catches_its_defect(context, tmp_path_factory, name):
    page = FIXTURES / name
    expect = _expected(page)
    root = tmp_path_factory.mktemp("fixture")
    (root / "_static").symlink_to(HTML_DIR / "_static", target_is_directory=True)
    (root / name).write_text(FIXTURE_PAGE.format(name=name, body=page.read_text(encoding="utf-8")),
                             encoding="utf-8")
    _make_fixture_images(root, page)
    served = Site(root)
    try:
        if not expect:  # the clean page: no detector may fire
            check_page(context, served, name)
            return
        with pytest.raises(AssertionError) as failure:
            check_page(context, served, name)
        assert expect in str(failure.value), f"{name}: expected {expect!r}, got:\n{failure.value}"
    finally:
        served.close()


#: A capture-phase listener that swallows taps on the menu button: what readers
#: met with pydata-sphinx-theme >= 0.17 (the theme's handler never ran).
DEAD_DRAWER = ("<script>document.addEventListener('click', e => {"
               " if (e.target.closest('.primary-toggle')) e.stopImmediatePropagation(); }, true)</script>")


def test_the_drawer_check_catches_a_menu_button_that_does_nothing(context, site, tmp_path_factory):
    """A copy of the build where one page's menu button is dead: the drawer check fires."""
    page = INTRO_PAGE
    root = tmp_path_factory.mktemp("dead_drawer")
    for entry in HTML_DIR.iterdir():
        if entry.name != "book":
            (root / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (root / "book").mkdir()
    for entry in (HTML_DIR / "book").iterdir():
        if entry.name != Path(page).name:
            (root / "book" / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    text = (HTML_DIR / page).read_text(encoding="utf-8")
    (root / page).write_text(text.replace("</head>", DEAD_DRAWER + "</head>", 1), encoding="utf-8")
    served = Site(root)
    try:
        with pytest.raises(AssertionError, match=r"drawer: tapping the menu button did not show"):
            check_page(context, served, page)
        check_page(context, site, page)  # the real page passes
    finally:
        served.close()


def search_snippets(context, site: Site, query: str) -> tuple[int, dict]:
    """Search the book; return how many results have a snippet, and what the detectors find."""
    tab = context.new_page()
    try:
        tab.goto(site.url(f"search.html?q={query}"), wait_until="load")
        tab.wait_for_function(
            "() => document.querySelectorAll('#search-results ul.search li p.context').length >= 3 "
            "&& !document.querySelector('#search-progress')?.textContent.includes('Preparing')",
            timeout=20000)
        tab.wait_for_timeout(1000)  # the remaining snippets
        tab.evaluate(CHECKS_JS)
        count = tab.evaluate("() => document.querySelectorAll('#search-results p.context').length")
        return count, tab.evaluate("() => __emtutor.check('desktop')")
    finally:
        tab.close()


SEARCH_QUERY = "responsibilities"


def test_search_snippets_show_no_raw_tex(context, site):
    count, found = search_snippets(context, site, SEARCH_QUERY)
    assert count >= 3
    assert "raw_markup" not in found, found["raw_markup"]


def test_the_search_check_catches_raw_tex_in_snippets(browser, site):
    """Without emtutor-search.js (Sphinx's own snippets), the same search shows TeX."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.route("**/emtutor-search.js*", lambda route: route.abort())
    try:
        count, found = search_snippets(ctx, site, SEARCH_QUERY)
    finally:
        ctx.close()
    assert count >= 3
    assert any("TeX command" in problem for problem in found.get("raw_markup", [])), found


# The fixture book: only built while the book itself has no animation or no
# widget page, so that those checks always run on something real.


def _fixture_notebook() -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import ipywidgets
    import matplotlib.pyplot as plt
    import nbformat
    from ipywidgets.embed import embed_data
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    (line,) = ax.plot([0, 1], [0, 0])
    ax.set_ylim(-1, 3)
    anim = FuncAnimation(fig, lambda t: line.set_ydata([t, t]) or (line,), frames=3)
    animation_html = anim.to_jshtml(fps=2, default_mode="once")
    plt.close(fig)

    # Play draws Font Awesome icons: the manager must find its fonts offline
    box = ipywidgets.VBox([ipywidgets.IntSlider(value=3, min=1, max=6, description="K"),
                           ipywidgets.Play(value=0, min=0, max=5),
                           ipywidgets.Label("fixture widget")])
    state = embed_data(views=[box])
    (view,) = state["view_specs"]

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state["manager_state"]}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture: animation and widget\n\nMath: $a^2 + b^2$."),
        nbformat.v4.new_code_cell("anim", execution_count=1, outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": animation_html, "text/plain": "<animation>"})]),
        nbformat.v4.new_code_cell("box", execution_count=2, outputs=[nbformat.v4.new_output(
            "display_data", data={"application/vnd.jupyter.widget-view+json": view,
                                  "text/plain": "VBox(...)"})]),
    ]
    return nb


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory):
    """Start building the fixture book with the book's own configuration."""
    import nbformat

    src = tmp_path_factory.mktemp("fixture_book")
    shutil.copy(ROOT / "_config.yml", src / "_config.yml")
    for folder in ("_widget_js", "_ext"):
        (src / folder).symlink_to(ROOT / folder, target_is_directory=True)
    (src / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", src / "book" / "references.bib")
    (src / "book" / "index.md").write_text("# Fixture book\n\n```{tableofcontents}\n```\n")
    nbformat.write(nbformat.from_dict(_fixture_notebook()), src / "book" / "fixture.ipynb")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/fixture\n")
    log = src / "build.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyter-book"), "build", "--warningiserror",
             "--keep-going", "--nitpick", str(src)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    yield src, process, log
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def fixture_site(fixture_build):
    src, process, log = fixture_build
    returncode = process.wait(timeout=600)
    assert returncode == 0, f"fixture book build failed:\n{log.read_text()[-4000:]}"
    served = Site(src / "_build" / "html")
    yield served
    served.close()


if NEEDS_FIXTURE_BOOK:

    def test_fixture_animation_and_widget(context, fixture_site):
        state = check_page(context, fixture_site, "book/fixture.html", use_controls=False)
        assert state["animations"] == 1 and state["widget_views"] == 1
        assert state["math"] >= 1

    def test_the_controls_check_catches_dead_widget_controls(context, fixture_site):
        """A saved Play widget in a page without a kernel: pressing it throws (the
        explorer's Play/slider did, in embed-amd.js). The controls check must say so,
        and nothing else is wrong with the page."""
        with pytest.raises(AssertionError) as failure:
            check_page(context, fixture_site, "book/fixture.html")
        problems = [line.strip() for line in str(failure.value).splitlines()[1:]
                    if line.strip() and not line.strip().startswith("assert")]
        assert len(problems) == 1 and problems[0].startswith(
            "page errors when the widget controls are used"), failure.value
