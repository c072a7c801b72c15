"""Matplotlib helpers for the book's figures.

* :func:`covariance_ellipse`, :func:`plot_mixture`, :func:`plot_log_likelihood`:
  one fitted mixture and its log-likelihood curve;
* :func:`responsibility_colors`: each point coloured by the
  responsibility-weighted mix of the component colours;
* :func:`plot_em_panels`: EM's first steps side by side, in the style of
  Bishop's *PRML* Figure 9.8;
* :func:`animate_em`: a :class:`matplotlib.animation.FuncAnimation` of the
  recorded iterations (``record=True``), which ``to_jshtml()`` turns into
  an animation that plays in a web page without a kernel;
* :class:`MixtureArtists`: the artists of one mixture plot, updated in
  place; the animation and the interactive explorer
  (:func:`emtutor.widgets.em_explorer`) redraw through it, which is much
  faster than clearing and re-plotting the axes.

Only 2-D data can be drawn.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "covariance_ellipse",
    "ellipse_geometry",
    "responsibility_colors",
    "plot_mixture",
    "plot_log_likelihood",
    "MixtureArtists",
    "em_panel_states",
    "plot_em_panels",
    "animate_em",
]


def ellipse_geometry(mean, covariance, n_std: float = 2.0):
    """Centre, width, height and angle of a 2-D Gaussian's ``n_std`` ellipse.

    The axes point along the eigenvectors of ``covariance`` and their
    half-lengths are ``n_std * sqrt(eigenvalue)``.

    Parameters
    ----------
    mean : array of shape (2,)
    covariance : array of shape (2, 2)
    n_std : float, default 2.0

    Returns
    -------
    center : tuple of float
    width, height : float
        Full lengths of the major and minor axes.
    angle : float
        Angle of the major axis in degrees, counter-clockwise from the x-axis.
    """
    eigvals, eigvecs = np.linalg.eigh(np.asarray(covariance, dtype=float))
    angle = float(np.degrees(np.arctan2(eigvecs[1, 1], eigvecs[0, 1])))
    width, height = 2.0 * n_std * np.sqrt(np.maximum(eigvals[::-1], 0.0))
    return (float(mean[0]), float(mean[1])), float(width), float(height), angle


def covariance_ellipse(mean, covariance, n_std: float = 2.0, **kwargs):
    """An ellipse at ``n_std`` standard deviations of a 2-D Gaussian.

    The axes point along the eigenvectors of ``covariance`` and their
    half-lengths are ``n_std * sqrt(eigenvalue)``.

    Parameters
    ----------
    mean : array of shape (2,)
    covariance : array of shape (2, 2)
    n_std : float, default 2.0
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (e.g. ``edgecolor``).

    Returns
    -------
    matplotlib.patches.Ellipse
    """
    from matplotlib.patches import Ellipse

    center, width, height, angle = ellipse_geometry(mean, covariance, n_std)
    kwargs.setdefault("facecolor", "none")
    return Ellipse(center, width, height, angle=angle, **kwargs)


def _component_colors(n_components: int, colors=None) -> list:
    if colors is None:
        return [f"C{i % 10}" for i in range(n_components)]
    if len(colors) < n_components:
        raise ValueError(f"need {n_components} colors, got {len(colors)}")
    return list(colors)[:n_components]


def responsibility_colors(resp, colors=None) -> np.ndarray:
    """RGB colour of each point: the responsibility-weighted mix of the components'.

    A point that one component fully owns gets that component's colour; a
    point shared equally between two components gets the average of theirs.

    Parameters
    ----------
    resp : array of shape (n_samples, n_components)
        Responsibilities; each row sums to 1.
    colors : sequence of colours, optional
        One per component; default the ``tab10`` cycle ``C0, C1, ...``.

    Returns
    -------
    ndarray of shape (n_samples, 3)
        RGB values in ``[0, 1]``.
    """
    from matplotlib import colors as mcolors

    resp = np.asarray(resp, dtype=float)
    if resp.ndim != 2:
        raise ValueError(f"resp must be 2-D of shape (n_samples, n_components), got shape {resp.shape}")
    rgb = np.array([mcolors.to_rgb(c) for c in _component_colors(resp.shape[1], colors)])
    return np.clip(resp @ rgb, 0.0, 1.0)


def plot_mixture(ax, X, means, covariances, resp=None, n_std=(1.0, 2.0), colors=None):
    """Scatter ``X`` and draw each component's covariance ellipses.

    Parameters
    ----------
    ax : matplotlib Axes
    X : array of shape (n_samples, 2)
    means : array of shape (n_components, 2)
    covariances : array of shape (n_components, 2, 2)
    resp : array of shape (n_samples, n_components), optional
        If given, each point is coloured by the responsibility-weighted mix
        of the component colours (:func:`responsibility_colors`).
    n_std : sequence of float
        Draw one ellipse per entry.
    colors : sequence of colours, optional
        One per component; default the ``tab10`` cycle.

    Returns
    -------
    ax
    """
    k = len(means)
    colors = _component_colors(k, colors)
    point_colors = "0.5" if resp is None else responsibility_colors(resp, colors)
    ax.scatter(X[:, 0], X[:, 1], s=8, c=point_colors, alpha=0.8, linewidths=0)
    for i in range(k):
        for s in np.atleast_1d(n_std):
            ax.add_patch(covariance_ellipse(means[i], covariances[i], s, edgecolor=colors[i], lw=1.5))
        ax.plot(*means[i], marker="x", color=colors[i], ms=8, mew=2)
    ax.set_aspect("equal", adjustable="datalim")
    return ax


def plot_log_likelihood(ax, log_likelihoods, initial=None, **kwargs):
    """Plot the log-likelihood after every EM iteration.

    Parameters
    ----------
    ax : matplotlib Axes
    log_likelihoods : array of shape (n_iter,)
        Value after iteration ``1 .. n_iter``.
    initial : float, optional
        Value of the initial parameters, drawn at iteration 0.

    Returns
    -------
    ax
    """
    values = np.asarray(log_likelihoods, dtype=float)
    iterations = np.arange(1, len(values) + 1)
    if initial is not None:
        values = np.r_[initial, values]
        iterations = np.r_[0, iterations]
    kwargs.setdefault("marker", ".")
    ax.plot(iterations, values, **kwargs)
    ax.set_xlabel("iteration")
    ax.set_ylabel("log-likelihood")
    return ax


class MixtureArtists:
    """The artists of one mixture plot, redrawn in place.

    Creates, once, a scatter of ``X``, ``len(n_std)`` ellipses and a mean
    marker per component; :meth:`update` then moves them to new parameters
    and recolours the points, without creating new artists.  Axis limits
    are fixed to the data (with a margin) so frames do not jump.

    Parameters
    ----------
    ax : matplotlib Axes
    X : array of shape (n_samples, 2)
    n_components : int
    n_std : sequence of float, default (1.0, 2.0)
    colors : sequence of colours, optional
        One per component; default the ``tab10`` cycle.
    point_size : float, default 8
    """

    def __init__(self, ax, X, n_components, n_std=(1.0, 2.0), colors=None, point_size=8):
        from matplotlib.patches import Ellipse

        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"only 2-D data can be drawn: X must have shape (n_samples, 2), got {X.shape}")
        self.ax = ax
        self.X = X
        self.n_std = tuple(np.atleast_1d(n_std).astype(float))
        self.colors = _component_colors(n_components, colors)
        self.scatter = ax.scatter(X[:, 0], X[:, 1], s=point_size, c="0.5", alpha=0.8, linewidths=0)
        self.ellipses = []
        self.markers = []
        for i in range(n_components):
            row = []
            for _ in self.n_std:
                patch = Ellipse((0.0, 0.0), 0.0, 0.0, facecolor="none", edgecolor=self.colors[i], lw=1.5)
                ax.add_patch(patch)
                row.append(patch)
            self.ellipses.append(row)
            (marker,) = ax.plot([], [], marker="x", color=self.colors[i], ms=8, mew=2, ls="none")
            self.markers.append(marker)
        low, high = X.min(axis=0), X.max(axis=0)
        margin = 0.15 * (high - low) + 1e-12
        ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
        ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
        ax.set_aspect("equal", adjustable="box")

    @property
    def artists(self) -> list:
        """Every artist :meth:`update` changes: the scatter, the ellipses, the markers."""
        return [self.scatter, *[p for row in self.ellipses for p in row], *self.markers]

    def update(self, means, covariances, resp=None):
        """Move the ellipses and markers to ``means``/``covariances``; recolour by ``resp``.

        Parameters
        ----------
        means : array of shape (n_components, 2)
        covariances : array of shape (n_components, 2, 2)
        resp : array of shape (n_samples, n_components), optional
            ``None`` draws every point grey.

        Returns
        -------
        list of matplotlib artists
            Those changed (for ``FuncAnimation(..., blit=True)``).
        """
        if resp is None:
            self.scatter.set_facecolors("0.5")
        else:
            self.scatter.set_facecolors(responsibility_colors(resp, self.colors))
        for i, (mean, cov) in enumerate(zip(means, covariances)):
            for patch, s in zip(self.ellipses[i], self.n_std):
                center, width, height, angle = ellipse_geometry(mean, cov, s)
                patch.set_center(center)
                patch.set_width(width)
                patch.set_height(height)
                patch.set_angle(angle)
            self.markers[i].set_data([mean[0]], [mean[1]])
        return self.artists


def em_panel_states(history, iterations=(2, 5, 20)):
    """The states shown by :func:`plot_em_panels`, as ``(title, params, resp)``.

    ``history.params[t]`` are the parameters after ``t`` M-steps and
    ``history.resp[t]`` the responsibilities computed from them.  The
    panels are: the initial parameters (points not yet assigned); the first
    E-step (initial parameters, their responsibilities); the first M-step
    (new parameters, points still coloured by the responsibilities that
    produced them); then the state after each of ``iterations`` complete
    iterations (clipped to the number recorded, duplicates dropped).

    Parameters
    ----------
    history : emtutor.em.EMHistory
        From a fit with ``record=True``.
    iterations : sequence of int, default (2, 5, 20)

    Returns
    -------
    list of tuple (str, params, resp or None)
    """
    last = len(history.params) - 1
    if last < 1:
        raise ValueError("the history has no iteration: fit with record=True and max_iter >= 1")
    states = [
        ("initial parameters", history.params[0], None),
        ("first E-step", history.params[0], history.resp[0]),
        ("first M-step", history.params[1], history.resp[0]),
    ]
    seen = set()
    for t in iterations:
        t = min(int(t), last)
        if t in seen or t < 1:
            continue
        seen.add(t)
        label = "iteration" if t == 1 else "iterations"
        states.append((f"after {t} {label}", history.params[t], history.resp[t]))
    return states


def plot_em_panels(X, history, iterations=(2, 5, 20), *, ncols=3, panel_size=3.0, colors=None, n_std=(1.0, 2.0)):
    """EM's first steps side by side, in the style of Bishop's PRML Figure 9.8.

    See :func:`em_panel_states` for which states are drawn.

    Parameters
    ----------
    X : array of shape (n_samples, 2)
    history : emtutor.em.EMHistory
        From a fit with ``record=True``.
    iterations : sequence of int, default (2, 5, 20)
    ncols : int, default 3
    panel_size : float, default 3.0
        Size of one panel in inches.
    colors : sequence of colours, optional
    n_std : sequence of float, default (1.0, 2.0)

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of Axes
        One per panel (unused grid cells are removed).
    """
    import matplotlib.pyplot as plt

    states = em_panel_states(history, iterations)
    nrows = -(-len(states) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows), squeeze=False)
    axes = axes.ravel()
    for ax, (title, params, resp) in zip(axes, states):
        artists = MixtureArtists(ax, X, len(params.means), n_std=n_std, colors=colors)
        artists.update(params.means, params.covariances, resp)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(states):]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig, axes[: len(states)]


def animate_em(X, history, log_likelihoods=None, *, interval=200, figsize=(9.0, 3.8), dpi=80, colors=None,
               n_std=(1.0, 2.0), repeat_delay=1000):
    """An animation of recorded EM iterations.

    Frame ``t`` shows ``history.params[t]`` with the points coloured by
    ``history.resp[t]`` and, if ``log_likelihoods`` is given, the
    log-likelihood curve with the current iteration marked.  Call
    ``.to_jshtml()`` on the result for an animation that plays in a web page
    without a kernel (``from IPython.display import HTML``).

    Parameters
    ----------
    X : array of shape (n_samples, 2)
    history : emtutor.em.EMHistory
        From a fit with ``record=True``.
    log_likelihoods : array of shape (len(history.params),), optional
        Log-likelihood of every recorded parameter set, the initial one
        first: ``np.r_[result.initial_log_likelihood, result.log_likelihoods]``.
    interval : int, default 200
        Milliseconds between frames.
    figsize : tuple, default (9.0, 3.8)
    dpi : float, default 80
        Resolution of the frames (``to_jshtml`` embeds one PNG per frame).
    colors : sequence of colours, optional
    n_std : sequence of float, default (1.0, 2.0)
    repeat_delay : int, default 1000
        Pause in milliseconds before the animation starts again.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Its figure is closed, so it is not also shown as a static image.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    n_frames = len(history.params)
    if n_frames == 0:
        raise ValueError("the history is empty: fit with record=True")
    if log_likelihoods is not None:
        log_likelihoods = np.asarray(log_likelihoods, dtype=float)
        if log_likelihoods.shape != (n_frames,):
            raise ValueError(
                f"log_likelihoods must have shape ({n_frames},), one value per recorded "
                f"parameter set (initial first), got {log_likelihoods.shape}"
            )
        fig, (ax, ax_ll) = plt.subplots(1, 2, figsize=figsize, dpi=dpi)
    else:
        fig, ax = plt.subplots(figsize=(figsize[1], figsize[1]), dpi=dpi)
    artists = MixtureArtists(ax, X, len(history.params[0].means), n_std=n_std, colors=colors)
    # the longest title the frames show, so that tight_layout leaves room for it
    title = ax.set_title(f"iteration {n_frames - 1}")
    if log_likelihoods is not None:
        ax_ll.plot(np.arange(n_frames), log_likelihoods, color="0.6", lw=1)
        (point,) = ax_ll.plot([], [], "o", color="C3")
        ax_ll.set_xlabel("iteration")
        ax_ll.set_ylabel("log-likelihood")
    fig.tight_layout()

    def draw(t):
        params = history.params[t]
        changed = artists.update(params.means, params.covariances, history.resp[t])
        title.set_text(f"iteration {t}")
        if log_likelihoods is not None:
            point.set_data([t], [log_likelihoods[t]])
            changed.append(point)
        return [*changed, title]

    animation = FuncAnimation(fig, draw, frames=n_frames, interval=interval, repeat_delay=repeat_delay)
    plt.close(fig)
    return animation
