"""Data sets used in the book: generated exactly as the chapters describe, or
shipped inside the package (``emtutor/data/``, see its README for sources and
licences), so they work from an installed wheel as well as from a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["three_gaussians", "three_gaussians_init", "THREE_GAUSSIANS_MEANS", "old_faithful", "data_path", "bars"]

#: Means of the three components of :func:`three_gaussians`, in drawing order.
THREE_GAUSSIANS_MEANS = ((0.0, 0.0), (5.0, 5.0), (0.0, 5.0))


def three_gaussians() -> np.ndarray:
    """The classic three-Gaussian example: 300 points in the plane.

    Reproduces, bit for bit, the data of the original tutorial: seed NumPy's
    legacy global generator with 42, then for each mean in
    ``[[0, 0], [5, 5], [0, 5]]`` draw 100 points with
    ``np.random.multivariate_normal(mean, np.eye(2), 100)`` and stack them.

    The legacy global generator is used through a private
    ``np.random.RandomState(42)``, which produces the same stream, so
    calling this function does not reseed the caller's global generator.

    Returns
    -------
    X : ndarray of shape (300, 2)
    """
    return three_gaussians_init()[0]


def three_gaussians_init(n_components: int = 3):
    """The example's data and the tutorial's initial parameters.

    The initial parameters are drawn from the same stream right after the
    data: uniform weights, means at ``n_components`` distinct rows chosen
    by ``choice(n, n_components, replace=False)`` (rows 79, 12 and 204 for
    three components), identity covariances.

    Returns
    -------
    X : ndarray of shape (300, 2)
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, 2)
    covariances : ndarray of shape (n_components, 2, 2)
    """
    rng = np.random.RandomState(42)  # same stream as np.random.seed(42)
    X = np.vstack([rng.multivariate_normal(mean, np.eye(2), 100) for mean in THREE_GAUSSIANS_MEANS])
    weights = np.full(n_components, 1.0 / n_components)
    means = X[rng.choice(len(X), n_components, False)]
    covariances = np.repeat(np.eye(2)[None], n_components, axis=0)
    return X, weights, means, covariances


def data_path(name: str) -> Path:
    """Path of a data file shipped with the package (``emtutor/data/<name>``).

    The files are package data, installed with ``emtutor`` (a wheel or a
    source checkout alike); ``emtutor/data/README.md`` gives each one's
    source and licence.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    FileNotFoundError
        If ``name`` is not one of the shipped files (the message lists them).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a file name (str), got {type(name).__name__}")
    folder = Path(str(resources.files("emtutor") / "data"))
    path = folder / name
    if not path.is_file():
        shipped = sorted(p.name for p in folder.iterdir() if p.suffix == ".csv")
        raise FileNotFoundError(f"no data file {name!r} in emtutor/data; shipped: {shipped}")
    return path


def old_faithful() -> np.ndarray:
    """The Old Faithful geyser data: 272 eruptions in Yellowstone National Park.

    The measurements of R's ``faithful`` data set (Härdle 1991; analysed by
    Azzalini and Bowman 1990), shipped as ``emtutor/data/faithful.csv``.

    Returns
    -------
    X : ndarray of shape (272, 2)
        Column 0: eruption duration in minutes; column 1: waiting time to
        the next eruption in minutes.
    """
    return np.loadtxt(data_path("faithful.csv"), delimiter=",", skiprows=1)


def bars(n_docs: int = 2000, n_tokens: int = 100, alpha: float = 1.0, random_state=None):
    """The bars data set of Griffiths & Steyvers (2004).

    The vocabulary is a 5x5 grid of 25 "words" (word ``v`` is pixel
    ``(v // 5, v % 5)``).  There are 10 topics: topic ``k < 5`` is uniform
    over the 5 words of row ``k`` (a horizontal bar), topic ``5 + j`` uniform
    over the words of column ``j`` (a vertical bar).  Each document draws
    topic proportions ``theta ~ Dirichlet(alpha * ones(10))`` and then
    ``n_tokens`` words, each from the topic mixture ``theta @ topics`` (the
    same as drawing a topic per word and the word from it).

    Parameters
    ----------
    n_docs : int, default 2000
    n_tokens : int, default 100
        Words per document.
    alpha : float, default 1.0
        Symmetric Dirichlet parameter of the topic proportions.
    random_state : int, numpy Generator or None

    Returns
    -------
    X : ndarray of shape (n_docs, 25)
        Word counts, integers stored as floats; every row sums to ``n_tokens``.
    topics : ndarray of shape (10, 25)
        The true topics; each row is 1/5 on its bar and 0 elsewhere.
    theta : ndarray of shape (n_docs, 10)
        The true topic proportions of each document.
    """
    if isinstance(n_docs, bool) or not isinstance(n_docs, (int, np.integer)) or n_docs < 1:
        raise ValueError(f"n_docs must be an integer >= 1, got {n_docs!r}")
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, (int, np.integer)) or n_tokens < 0:
        raise ValueError(f"n_tokens must be an integer >= 0, got {n_tokens!r}")
    if not (np.isscalar(alpha) and np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    rng = np.random.default_rng(random_state)
    topics = np.zeros((10, 5, 5))
    for j in range(5):
        topics[j, j, :] = 1.0 / 5  # horizontal bar: row j
        topics[5 + j, :, j] = 1.0 / 5  # vertical bar: column j
    topics = topics.reshape(10, 25)
    theta = rng.dirichlet(np.full(10, float(alpha)), size=n_docs)
    word_probs = theta @ topics
    word_probs /= word_probs.sum(axis=1, keepdims=True)
    X = rng.multinomial(n_tokens, word_probs).astype(float)
    return X, topics, theta
