// What a reader sees, measured in the page. Used by tests/test_browser.py on
// every built page and on the small broken pages in tests/browser_fixtures/
// (each of which must make exactly its detector fire).
//
// Evaluated as an expression; it installs window.__emtutor with
//   openAll()       opens every <details>, solution and toggle dropdown;
//   check(mode)     mode "desktop" or "phone": {category: [problem, ...]};
//   drawer()        after the phone menu button was tapped: what the drawer shows.
window.__emtutor = (() => {
  "use strict";

  const short = (s, n = 90) => s.replace(/\s+/g, " ").trim().slice(0, n);
  const where = el => {
    const h = el.closest("section[id]");
    return h ? `#${h.id}` : el.tagName.toLowerCase();
  };
  const visible = el => !!(el.offsetParent || el.getClientRects().length) &&
      getComputedStyle(el).visibility !== "hidden";

  function openAll() {
    document.querySelectorAll("details").forEach(d => { d.open = true; });
    // sphinx-togglebutton (solutions with :class: dropdown, toggled cells)
    document.querySelectorAll(".toggle-hidden").forEach(el => el.classList.remove("toggle-hidden"));
    document.querySelectorAll("button.toggle-button-hidden").forEach(b => {
      b.classList.remove("toggle-button-hidden");
      b.setAttribute("aria-expanded", "true");
    });
    document.querySelectorAll(".toggle-details__container, .toggle-details").forEach(
        el => { if (el.tagName === "DETAILS") el.open = true; });
  }

  // Text the reader reads as prose: outside math, code, scripts and hidden parts.
  const NOT_PROSE = "script, style, noscript, mjx-container, .math, code, pre, kbd, samp, " +
      ".highlight, .MathJax, svg, .headerlink, textarea, select, .jupyter-widgets";
  const BLOCKS = "p, li, dd, dt, td, th, h1, h2, h3, h4, h5, h6, figcaption, caption, " +
      ".admonition-title, blockquote, .caption-text";

  function proseOf(el) {
    let text = "";
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
      acceptNode(node) {
        const parent = node.parentElement;
        if (!parent || parent.closest(NOT_PROSE)) return NodeFilter.FILTER_REJECT;
        // nested blocks are read on their own
        if (parent.closest(BLOCKS) !== el) return NodeFilter.FILTER_REJECT;
        return NodeFilter.FILTER_ACCEPT;
      },
    });
    while (walker.nextNode()) text += walker.currentNode.data;
    return text;
  }

  const TEX_COMMAND = /\\[A-Za-z]{2,}|\\[{}_^]/;
  const DOLLAR_PAIR = /\$[^$\s][^$]*?\$/;
  const MYST_ROLE = /\{(eq|ref|doc|numref|cite|cite:[a-z]+|math|term|func|class|mod|meth|attr|data|obj|prf:ref|download|abbr|sub|sup)\}`?/;
  const REST_ROLE = /:(eq|ref|doc|numref|cite|math|term|func|class|mod|meth|attr|data|obj|exc|py:[a-z]+):`/;

  function rawMarkup() {
    const problems = [];
    const root = document.querySelector("main, article, .bd-article") || document.body;
    for (const block of root.querySelectorAll(BLOCKS)) {
      if (!visible(block) || block.closest(NOT_PROSE)) continue;
      const text = proseOf(block);
      for (const [name, pattern] of [["TeX command", TEX_COMMAND], ["$ pair", DOLLAR_PAIR],
                                     ["MyST role", MYST_ROLE], ["reST role", REST_ROLE]]) {
        const m = text.match(pattern);
        if (m) {
          problems.push(`${name} ${JSON.stringify(m[0])} in ${where(block)}: ` +
                        `"${short(text.slice(Math.max(0, m.index - 40), m.index + 50))}"`);
        }
      }
    }
    // reST markup in code the page shows (package source with its docstrings)
    for (const pre of root.querySelectorAll("pre")) {
      if (!visible(pre)) continue;
      const text = pre.textContent;
      const m = text.match(REST_ROLE) || text.match(/``[^`\n]+``/);
      if (m) problems.push(`reST markup ${JSON.stringify(m[0])} in displayed code at ${where(pre)}`);
    }
    return problems;
  }

  // A display equation, and how much wider than its column it is.
  function displayMath() {
    const out = [];
    for (const box of document.querySelectorAll("div.math, mjx-container[display='true']")) {
      if (box.tagName === "MJX-CONTAINER" && box.closest("div.math")) continue;
      if (!visible(box)) continue;
      const math = box.querySelector("mjx-math");
      if (!math) continue;
      const column = box.getBoundingClientRect();
      const width = math.getBoundingClientRect().width;
      out.push({box, math, excess: width - column.width,
                label: short(box.querySelector("mjx-assistive-mml")?.textContent || box.textContent, 60)});
    }
    return out;
  }

  // The element that scrolls a too-wide equation, if one does (visibly).
  function scroller(box) {
    for (let el = box.querySelector("mjx-container") || box; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (["auto", "scroll"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        return el;
      }
      if (el === box.parentElement) break;
    }
    return null;
  }

  function wideEquations(mode) {
    const problems = [];
    for (const {box, math, excess, label} of displayMath()) {
      // overflow to the left can never be scrolled to (a flex row-reverse box)
      const cut = box.getBoundingClientRect().left - math.getBoundingClientRect().left + box.scrollLeft;
      if (cut > 1) {
        problems.push(`display equation cut off on the left by ${Math.round(cut)} px (cannot be scrolled to) at ${where(box)}: ${label}`);
        continue;
      }
      if (excess <= 1) continue;
      if (mode === "desktop") {
        problems.push(`display equation ${Math.round(excess)} px wider than its column at ${where(box)}: ${label}`);
        continue;
      }
      const el = scroller(box);
      // a scrollbar is visible when it takes height (not an overlay that appears on touch)
      const bar = el ? el.offsetHeight - el.clientHeight : 0;
      if (!el) {
        problems.push(`display equation ${Math.round(excess)} px too wide and cut off (no scrolling) at ${where(box)}: ${label}`);
      } else if (bar < 3) {
        problems.push(`display equation ${Math.round(excess)} px too wide scrolls without a visible scrollbar at ${where(box)}: ${label}`);
      }
    }
    return problems;
  }

  // Elements that stick out on the right of the viewport (and are not inside
  // something that scrolls or clips them).
  function pageWidth() {
    const limit = window.innerWidth;
    const width = document.documentElement.scrollWidth;
    if (width <= limit + 1) return [];
    const culprits = [];
    for (const el of document.querySelectorAll("body *")) {
      if (culprits.length >= 4) break;
      const r = el.getBoundingClientRect();
      if (r.right <= limit + 1 || r.width === 0) continue;
      let clipped = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o !== "visible" && p.getBoundingClientRect().right <= limit + 1) { clipped = true; break; }
      }
      if (clipped) continue;
      if ([...el.children].some(c => c.getBoundingClientRect().right > limit + 1)) continue;
      culprits.push(`${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""}` +
                    ` "${short(el.textContent, 40)}"`);
    }
    if (!culprits.length) {  // content overflowing a box that does not scroll
      for (const el of document.querySelectorAll("body *")) {
        if (culprits.length >= 4) break;
        if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
            getComputedStyle(el).overflowX === "visible" &&
            el.getBoundingClientRect().left + el.scrollWidth > limit + 1) {
          culprits.push(`${el.tagName.toLowerCase()} overflowing "${short(el.textContent, 40)}"`);
        }
      }
    }
    return [`page is ${width} px wide in a ${limit} px viewport; widest: ${culprits.join("; ")}`];
  }

  // Notebook figures: stored at >= 2x the width they are shown at, with alt text
  // that says what they show (not a file name).
  function figures(mode) {
    const problems = [];
    const FILE_NAME = /\.(png|jpe?g|gif|svg|webp)\b|^[\w./-]*\/[\w./-]*$|^[0-9a-f]{16,}/i;
    for (const img of document.querySelectorAll(".cell_output img, .output img, figure img")) {
      if (img.closest(".animation, .jupyter-widgets")) continue;
      if (!visible(img)) continue;
      const shown = img.getBoundingClientRect().width;
      const box = img.getBoundingClientRect();
      const src = img.getAttribute("src") || "";
      const name = src.split("/").pop().slice(0, 24);
      const svg = /\.svg(\?|$)|^data:image\/svg/.test(src);
      if (mode === "desktop" && !svg && img.naturalWidth > 0 && img.naturalWidth < 2 * shown - 2) {
        problems.push(`figure ${name} stored ${img.naturalWidth} px wide, shown at ${Math.round(shown)} px (< 2x)`);
      }
      // shown at the stored aspect ratio: an <img width height> that CSS narrows
      // (max-width: 100%) keeps its height attribute unless height is auto
      if (img.naturalWidth > 0 && img.naturalHeight > 0 && box.height > 0) {
        const stored = img.naturalWidth / img.naturalHeight, seen = box.width / box.height;
        if (Math.abs(seen / stored - 1) > 0.02) {
          problems.push(`figure ${name} distorted: shown ${Math.round(box.width)}x${Math.round(box.height)} px, ` +
                        `stored ${img.naturalWidth}x${img.naturalHeight}`);
        }
      }
      const alt = (img.getAttribute("alt") || "").trim();
      if (mode === "desktop" && (alt.length < 12 || !/\s/.test(alt) || FILE_NAME.test(alt))) {
        problems.push(`figure ${name} has no meaningful alt text (${JSON.stringify(alt.slice(0, 60))})`);
      }
    }
    return problems;
  }

  // Equation references and headings as printed: "((2.1))", a bare "(4)"
  // for an equation of an unnumbered page, a heading numbered twice.
  function numbering() {
    const problems = [];
    const root = document.querySelector("main, article, .bd-article") || document.body;
    const text = root.innerText;
    const doubled = text.match(/\(\(\d+(?:\.\d+)*\)[);]?/);
    if (doubled) problems.push(`doubled parentheses around an equation number: "${doubled[0]}"`);
    for (const a of root.querySelectorAll('a[href*="#equation-"]')) {
      if (/^\(\d+\)$/.test(a.textContent.trim())) {
        problems.push(`equation reference without its chapter: "${a.textContent.trim()}" -> ${a.getAttribute("href")}`);
        break;
      }
    }
    for (const h of root.querySelectorAll("h1, h2, h3, h4")) {
      const title = h.textContent.replace(/#$/, "").trim();
      if (/^\d+(\.\d+)*\.?\s+\d+[.)]\s/.test(title)) problems.push(`heading numbered twice: "${short(title, 60)}"`);
    }
    return problems;
  }

  // A table caption must be readable without scrolling the table sideways.
  function tableCaptions() {
    const problems = [];
    for (const caption of document.querySelectorAll("caption")) {
      if (!visible(caption)) continue;
      let view = caption.closest("table").parentElement;
      while (view && view !== document.body && getComputedStyle(view).overflowX === "visible") view = view.parentElement;
      const limit = view && view !== document.body ? view.getBoundingClientRect().right : window.innerWidth;
      const r = caption.getBoundingClientRect();
      // the text itself, not the caption box (which may be as wide as the table)
      const range = document.createRange();
      range.selectNodeContents(caption);
      const right = Math.max(...[...range.getClientRects()].map(x => x.right), r.left);
      if (right > limit + 1) {
        problems.push(`table caption runs ${Math.round(right - limit)} px out of view: "${short(caption.textContent, 50)}"`);
      }
    }
    return problems;
  }

  function apiText() {
    const text = document.body.innerText;
    const problems = [];
    for (const bad of ["<function <lambda>", "<function ", "Alias for field number"]) {
      const i = text.indexOf(bad);
      if (i >= 0) problems.push(`${JSON.stringify(bad)} on the page: "${short(text.slice(i, i + 70))}"`);
    }
    return problems.slice(0, 2);
  }

  // Punctuation that starts a line right after inline math (", where").
  function orphanedPunctuation() {
    const problems = [];
    const maths = document.querySelectorAll("span.math mjx-container:not([display='true']), mjx-container[display='false']");
    for (const mjx of maths) {
      if (!visible(mjx)) continue;
      const math = mjx.closest("span.math") || mjx;
      // the next text node after the math, in document order
      let node = math;
      while (node && !node.nextSibling) node = node.parentNode;
      node = node && node.nextSibling;
      while (node && node.nodeType !== Node.TEXT_NODE) node = node.firstChild || node.nextSibling;
      if (!node || !/^[,.;:!?)]/.test(node.data)) continue;
      const range = document.createRange();
      range.setStart(node, 0);
      range.setEnd(node, 1);
      const p = range.getClientRects()[0];
      const m = mjx.getBoundingClientRect();
      if (p && m.height && p.top >= m.bottom - 2) {
        const block = mjx.closest("p, li, dd, td") || mjx;
        problems.push(`"${node.data[0]}" starts a line after inline math at ${where(block)}: ` +
                      `"${short(mjx.querySelector("mjx-assistive-mml")?.textContent || "", 30)}${node.data.slice(0, 20)}"`);
      }
    }
    return problems;
  }

  function check(mode) {
    const result = {
      raw_markup: rawMarkup(),
      wide_equation: wideEquations(mode),
      figures: figures(mode),
      api_text: apiText(),
      table_caption: tableCaptions(),
      numbering: numbering(),
      orphaned_punctuation: orphanedPunctuation(),
      page_width: mode === "phone" ? pageWidth() : [],
    };
    for (const key of Object.keys(result)) if (!result[key].length) delete result[key];
    return result;
  }

  // After the phone menu button was tapped: the drawer must be on screen and
  // list the chapters (the links of the book's table of contents).
  function drawer() {
    const candidates = [...document.querySelectorAll(
        "dialog[open], .bd-sidebar-primary, #pst-primary-sidebar, .bd-sidebar")];
    let best = {visibleLinks: 0, onScreen: false};
    for (const el of candidates) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      const onScreen = r.width > 150 && r.left >= -1 && r.left < window.innerWidth / 2 && r.height > 200;
      const links = [...el.querySelectorAll("nav a.reference.internal, .bd-toc-item a, .toctree-l1 > a")]
          .filter(a => {
            if (!visible(a)) return false;
            const b = a.getBoundingClientRect();
            return b.width > 0 && b.right > 0 && b.left < window.innerWidth;
          });
      if (links.length > best.visibleLinks) {
        best = {visibleLinks: links.length, onScreen, titles: links.slice(0, 40).map(a => short(a.textContent, 50))};
      }
    }
    return best;
  }

  return {openAll, check, drawer};
})();
