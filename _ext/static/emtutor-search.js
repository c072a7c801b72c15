// emtutor: search results without raw TeX (loaded on the search page only,
// see _ext/emtutor_rendering.py). Sphinx makes each result's snippet from the
// text of the page's HTML, where math is still TeX source (\(r_{nk}\)) until
// MathJax typesets it; the snippet would show that source. Math is replaced
// by an ellipsis before the text is taken.
(function () {
  "use strict";
  function patch() {
    // searchtools.js declares `const Search`: a global binding, not window.Search
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.emtutor) return;
    const original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math, .eqno").forEach(el => el.replaceWith(" … "));
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.htmlToText.emtutor = true;
  }
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
