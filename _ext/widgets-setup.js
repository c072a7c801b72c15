// Loaded on pages with saved ipywidgets, after require.js and before the
// ipywidgets HTML manager (embed-amd.js); see nb_ipywidgets_js in _config.yml.
// The Makefile copies it next to them into _static/widgets/.
(function () {
  "use strict";
  // This folder, e.g. https://host/book/_static/widgets/
  var here = document.currentScript.src.replace(/[^/]*$/, "");

  // The bundled modules (@jupyter-widgets/base, /controls, /html-manager,
  // /html-manager/dist/libembed-amd) locate their icon fonts relative to
  // their own AMD module URL, which require.js resolves against the *page's*
  // folder. Map every one of them into this folder, where the fonts are.
  window.__jupyter_widgets_assets_path__ = here;
  if (window.require && window.require.config) {
    var folder = here.replace(/\/$/, "");
    window.require.config({
      paths: {
        "@jupyter-widgets": folder,
        "@jupyter-widgets/html-manager/dist": folder,
      },
    });
  }

  // The HTML manager typesets widget labels with the MathJax 2 API,
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads
  // MathJax 3. MathJax replaces window.MathJax when it loads (a deferred
  // script), and widgets render on the window's load event, so install the
  // one call it needs in between.
  function installHub() {
    var mj = window.MathJax;
    if (!mj || !mj.startup || mj.Hub) {
      return;
    }
    mj.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        var done = mj.startup.promise || Promise.resolve();
        return done.then(function () {
          return mj.typesetPromise(element ? [element] : undefined);
        });
      },
    };
  }
  document.addEventListener("DOMContentLoaded", installHub);
  window.addEventListener("load", installHub);
})();
