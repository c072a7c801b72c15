"""Matplotlib helpers for the book's figures (ellipses, log-likelihood curves)."""

from __future__ import annotations

import numpy as np

__all__ = ["covariance_ellipse", "plot_mixture", "plot_log_likelihood"]


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

    eigvals, eigvecs = np.linalg.eigh(np.asarray(covariance, dtype=float))
    angle = np.degrees(np.arctan2(eigvecs[1, 1], eigvecs[0, 1]))
    width, height = 2.0 * n_std * np.sqrt(np.maximum(eigvals[::-1], 0.0))
    kwargs.setdefault("facecolor", "none")
    return Ellipse(tuple(mean), width, height, angle=angle, **kwargs)


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
        of the component colours.
    n_std : sequence of float
        Draw one ellipse per entry.
    colors : sequence of colours, optional
        One per component; default the ``tab10`` cycle.

    Returns
    -------
    ax
    """
    from matplotlib import colors as mcolors

    k = len(means)
    if colors is None:
        colors = [f"C{i % 10}" for i in range(k)]
    rgb = np.array([mcolors.to_rgb(c) for c in colors])
    point_colors = "0.5" if resp is None else np.clip(np.asarray(resp) @ rgb, 0, 1)
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
