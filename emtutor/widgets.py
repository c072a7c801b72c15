"""An interactive explorer of EM on a 2-D Gaussian mixture (needs ipywidgets).

:func:`em_explorer` returns a panel with an iteration slider (and a play
button), the number of components, the initialisation method and its seed.
It draws the mixture at the chosen iteration (covariance ellipses, points
coloured by their responsibilities) beside the log-likelihood curve.

Each fit is computed once per setting ``(n_components, init, seed)`` with
``record=True`` and cached, so moving the slider only redraws: the
artists are moved in place (:class:`emtutor.plotting.MixtureArtists`) and
the figure is rendered to a PNG shown in an ``ipywidgets.Image``.  No
interactive matplotlib backend is needed, and the rendered image is part of
the widget state that a notebook can save.

ipywidgets is optional: importing this module works without it, and
:func:`em_explorer` raises an ``ImportError`` that says what to install.
"""

from __future__ import annotations

import io
import time
import warnings
from typing import NamedTuple

import numpy as np

from . import gmm
from ._validation import as_data_matrix
from .em import ConvergenceWarning
from .plotting import MixtureArtists

__all__ = ["INIT_METHODS", "EMRun", "fit_run", "EMExplorer", "em_explorer"]

#: Initialisation methods offered by the explorer (those of :func:`emtutor.gmm.fit`).
INIT_METHODS = gmm.INIT_METHODS


class EMRun(NamedTuple):
    """One recorded EM fit, as the explorer draws it.

    Attributes
    ----------
    params : list of emtutor.gmm.GMMParams
        ``params[t]`` after ``t`` iterations; length ``n_iter + 1``.
    resp : list of ndarray of shape (n_samples, n_components)
        Responsibilities computed from ``params[t]``.
    log_likelihoods : ndarray of shape (n_iter + 1,)
        Log-likelihood of ``params[t]``, the initial one first.
    converged : bool
    message : str
        Empty, or why the fit stopped early (non-convergence, a collapse).
    """

    params: list
    resp: list
    log_likelihoods: np.ndarray
    converged: bool
    message: str

    @property
    def n_iter(self) -> int:
        """Number of EM iterations recorded."""
        return len(self.params) - 1


def fit_run(X, n_components: int, init: str = "k-means++", seed: int = 0, *,
            tol: float = 1e-4, max_iter: int = 100, reg_covar: float = 1e-6) -> EMRun:
    """Fit a full-covariance mixture with ``record=True`` and package what the explorer draws.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How :func:`emtutor.gmm.fit` chooses the initial means.
    seed : int, default 0
    tol, max_iter, reg_covar
        As in :func:`emtutor.gmm.fit`.

    Returns
    -------
    EMRun
        A fit that hits ``max_iter`` returns normally with a message.

    Raises
    ------
    ValueError
        For an unknown ``init`` or a fit that fails (e.g. a collapsing
        component with ``reg_covar=0``).
    """
    if init not in INIT_METHODS:
        raise ValueError(f"unknown init {init!r}; use one of {INIT_METHODS}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = gmm.fit(X, n_components, init=init, random_state=seed, tol=tol, max_iter=max_iter,
                         reg_covar=reg_covar, record=True)
    message = "; ".join(str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning))
    log_likelihoods = np.r_[result.initial_objective, result.objectives]
    return EMRun(list(result.history.params), list(result.history.resp), log_likelihoods,
                 bool(result.converged), message)


def _require_ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise ImportError(
            "em_explorer needs ipywidgets, an optional dependency of emtutor: "
            "pip install 'emtutor[widgets]' (or pip install ipywidgets)"
        ) from None
    return ipywidgets


class EMExplorer:
    """The explorer behind :func:`em_explorer`; use that function to create one.

    Attributes
    ----------
    panel : ipywidgets.VBox
        The widget to display (displaying the explorer displays it).
    iteration, n_components, init, seed : ipywidgets widgets
        The controls; setting their ``value`` programmatically redraws.
    image : ipywidgets.Image
        The rendered figure (PNG).
    figure : matplotlib.figure.Figure
        Drawn with the Agg canvas, never shown by pyplot.
    n_fits : int
        How many fits were computed (cache misses).
    redraw_seconds : list of float
        Wall time of every redraw (moving the artists, rendering the PNG).
    """

    def __init__(self, X, n_components=3, *, init="k-means++", seed=0, max_components=8,
                 tol=1e-4, max_iter=300, reg_covar=1e-6, figsize=(9.0, 3.6), dpi=80):
        widgets = _require_ipywidgets()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        X = as_data_matrix(X)
        if X.shape[1] != 2:
            raise ValueError(f"the explorer draws 2-D data: X must have 2 columns, got {X.shape[1]}")
        if init not in INIT_METHODS:
            raise ValueError(f"unknown init {init!r}; use one of {INIT_METHODS}")
        max_components = min(int(max_components), len(X))
        if not 1 <= n_components <= max_components:
            raise ValueError(f"n_components must be between 1 and {max_components}, got {n_components}")
        self.X = X
        self._fit_options = dict(tol=tol, max_iter=max_iter, reg_covar=reg_covar)
        self._runs: dict[tuple, EMRun | str] = {}
        self.n_fits = 0
        self.redraw_seconds: list[float] = []

        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.ax, self.ax_ll = self.figure.subplots(1, 2)
        self._artists = None
        self._ll_line = None
        self._ll_point = None

        style = {"description_width": "initial"}
        self.iteration = widgets.IntSlider(value=0, min=0, max=0, description="iteration",
                                           continuous_update=True, style=style)
        self.play = widgets.Play(value=0, min=0, max=0, interval=150, description="play")
        widgets.jslink((self.play, "value"), (self.iteration, "value"))
        self.n_components = widgets.BoundedIntText(value=n_components, min=1, max=max_components,
                                                   description="components", style=style,
                                                   layout=widgets.Layout(width="160px"))
        self.init = widgets.Dropdown(options=list(INIT_METHODS), value=init, description="init",
                                     style=style, layout=widgets.Layout(width="240px"))
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           style=style, layout=widgets.Layout(width="160px"))
        self.status = widgets.HTML(value="")
        self.caption = widgets.HTML(value="")
        self.image = widgets.Image(format="png")
        self.panel = widgets.VBox([
            widgets.HBox([self.n_components, self.init, self.seed]),
            widgets.HBox([self.play, self.iteration, self.caption]),
            self.image,
            self.status,
        ])

        self._refitting = False
        self.iteration.observe(self._on_iteration, names="value")
        for control in (self.n_components, self.init, self.seed):
            control.observe(self._on_setting, names="value")
        self._on_setting(None)

    # --- the cache -------------------------------------------------------
    def run(self, n_components=None, init=None, seed=None):
        """The recorded fit for a setting (default: the current one), computed once.

        Returns
        -------
        EMRun or str
            The run, or the error message of a fit that failed.
        """
        key = (
            self.n_components.value if n_components is None else int(n_components),
            self.init.value if init is None else init,
            self.seed.value if seed is None else int(seed),
        )
        if key not in self._runs:
            self.n_fits += 1
            try:
                self._runs[key] = fit_run(self.X, *key, **self._fit_options)
            except ValueError as exc:
                self._runs[key] = f"fit failed: {exc}"
        return self._runs[key]

    # --- callbacks -----------------------------------------------------
    def _on_setting(self, change):
        run = self.run()
        self._refitting = True  # the slider's new bounds must not trigger a redraw of the old run
        try:
            n_iter = run.n_iter if isinstance(run, EMRun) else 0
            self.iteration.max = self.play.max = max(n_iter, 0)
            self.iteration.value = min(self.iteration.value, self.iteration.max)
        finally:
            self._refitting = False
        self._build_artists(run)
        self.redraw()

    def _on_iteration(self, change):
        if not self._refitting:
            self.redraw()

    # --- drawing ---------------------------------------------------------
    def _build_artists(self, run):
        self.ax.clear()
        self.ax_ll.clear()
        self._artists = None
        if not isinstance(run, EMRun):
            self.ax.scatter(self.X[:, 0], self.X[:, 1], s=8, c="0.5", linewidths=0)
            self.status.value = f"<span style='color:#b00'>{run}</span>"
            return
        self._artists = MixtureArtists(self.ax, self.X, len(run.params[0].means))
        iterations = np.arange(run.n_iter + 1)
        (self._ll_line,) = self.ax_ll.plot(iterations, run.log_likelihoods, ".-", color="0.5", lw=1, ms=3)
        (self._ll_point,) = self.ax_ll.plot([], [], "o", color="C3")
        self.ax_ll.set_xlabel("iteration")
        self.ax_ll.set_ylabel("log-likelihood")
        state = "converged" if run.converged else "not converged"
        self.status.value = (f"{run.n_iter} iterations, {state}, final log-likelihood "
                             f"{run.log_likelihoods[-1]:.4f}" + (f" ({run.message})" if run.message else ""))
        self.figure.tight_layout()
        self._animated = [*self._artists.artists, self._ll_point]
        for artist in self._animated:
            artist.set_animated(True)  # left out of the background
        self._background = None

    def _render_png(self) -> bytes:
        from PIL import Image

        canvas = self.figure.canvas
        if self._artists is None:
            canvas.draw()
        else:
            if self._background is None:
                canvas.draw()  # everything but the animated artists, once per setting
                self._background = canvas.copy_from_bbox(self.figure.bbox)
            canvas.restore_region(self._background)
            for artist in self._animated:
                self.figure.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())
        buffer = io.BytesIO()
        Image.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def redraw(self):
        """Draw the current setting at the current iteration into ``self.image``."""
        start = time.perf_counter()
        run = self.run()
        if isinstance(run, EMRun):
            t = self.iteration.value
            params = run.params[t]
            self._artists.update(params.means, params.covariances, run.resp[t])
            self._ll_point.set_data([t], [run.log_likelihoods[t]])
            self.caption.value = f"log-likelihood {run.log_likelihoods[t]:.4f}"
        self.image.value = self._render_png()
        self.redraw_seconds.append(time.perf_counter() - start)

    def still_png(self) -> bytes:
        """The current picture as a PNG at twice the figure's resolution.

        A page without a Python kernel (the static online book) cannot run
        the controls, so it shows this still instead of the panel.
        """
        buffer = io.BytesIO()
        try:
            self.figure.savefig(buffer, format="png", dpi=2 * self.figure.dpi)
        finally:
            self._background = None  # savefig redrew the canvas: the next redraw starts afresh
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        """The panel for Jupyter, with a still (``image/png``) for pages without a kernel.

        Jupyter front ends show the widget view; the static book prefers the
        still (``nb_mime_priority_overrides`` in the book's ``_config.yml``),
        shown at the figure's size, so it is stored at twice the resolution.
        """
        data = dict(self.panel._repr_mimebundle_(**kwargs))
        data["image/png"] = self.still_png()
        width, height = self.figure.get_size_inches() * self.figure.dpi
        metadata = {"image/png": {"width": int(round(width)), "height": int(round(height))}}
        return data, metadata


def em_explorer(X, n_components=3, **kwargs) -> EMExplorer:
    """An interactive panel to watch EM fit a Gaussian mixture to 2-D data.

    Controls: number of components, initialisation method, seed, and an
    iteration slider with a play button.  The figure shows the mixture at
    the chosen iteration (ellipses at 1 and 2 standard deviations, points
    coloured by their responsibilities) and the log-likelihood curve with
    the iteration marked.  Fits are cached per ``(n_components, init,
    seed)``; the slider only redraws.

    Parameters
    ----------
    X : array of shape (n_samples, 2)
    n_components : int, default 3
    **kwargs
        ``init``, ``seed``, ``max_components`` (default 8), ``tol``,
        ``max_iter`` (default 300),
        ``reg_covar`` (as in :func:`emtutor.gmm.fit`),
        ``figsize``, ``dpi``.

    Returns
    -------
    EMExplorer
        Display it (last expression of a cell) to show the panel.

    Raises
    ------
    ImportError
        If ipywidgets is not installed.
    ValueError
        If ``X`` does not have 2 columns or a setting is invalid.
    """
    return EMExplorer(X, n_components, **kwargs)
