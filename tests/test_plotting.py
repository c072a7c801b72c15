"""Tests of emtutor.plotting: geometry against closed forms, artists against the parameters drawn."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from emtutor import ConvergenceWarning, datasets, gmm  # noqa: E402
from emtutor.plotting import (  # noqa: E402
    MixtureArtists,
    animate_em,
    covariance_ellipse,
    ellipse_geometry,
    em_panel_states,
    plot_em_panels,
    responsibility_colors,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def recorded():
    X, w, m, c = datasets.three_gaussians_init()
    # six iterations of the seed example (it converges only after 41): stop early on purpose
    with pytest.warns(ConvergenceWarning):
        result = gmm.fit(X, 3, weights=w, means=m, covariances=c, reg_covar=0.0, max_iter=6, record=True)
    return X, result


def _boundary(patch, n_points=64):
    """Points on the drawn ellipse: the unit circle through the patch's transform."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_points, endpoint=False)
    return patch.get_patch_transform().transform(np.c_[np.cos(theta), np.sin(theta)])


def _mahalanobis_sq(points, mean, cov):
    centred = points - mean
    return np.einsum("ni,ij,nj->n", centred, np.linalg.inv(cov), centred)


@given(
    angle=st.floats(-np.pi, np.pi),
    sd1=st.floats(0.05, 20.0),
    sd2=st.floats(0.05, 20.0),
    n_std=st.floats(0.5, 3.0),
    mean=st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
)
def test_ellipse_boundary_is_the_mahalanobis_contour(angle, sd1, sd2, n_std, mean):
    # Oracle: every boundary point x of the n_std ellipse has (x-mu)^T Sigma^{-1} (x-mu) = n_std^2.
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cov = rotation @ np.diag([sd1**2, sd2**2]) @ rotation.T
    patch = covariance_ellipse(mean, cov, n_std)
    boundary = _boundary(patch)
    np.testing.assert_allclose(_mahalanobis_sq(boundary, np.array(mean), cov), n_std**2, rtol=1e-6)


@given(angle=st.floats(-np.pi, np.pi), sd1=st.floats(0.1, 10.0), sd2=st.floats(0.1, 10.0))
def test_ellipse_geometry_closed_form(angle, sd1, sd2):
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cov = rotation @ np.diag([sd1**2, sd2**2]) @ rotation.T
    center, width, height, _ = ellipse_geometry((1.0, -2.0), cov, 2.0)
    assert center == (1.0, -2.0)
    np.testing.assert_allclose([width, height], [4 * max(sd1, sd2), 4 * min(sd1, sd2)], rtol=1e-8)


def test_responsibility_colors_one_hot_and_mixtures():
    resp = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    colors = ["red", "lime", "blue"]
    rgb = responsibility_colors(resp, colors)
    np.testing.assert_allclose(rgb[0], mcolors.to_rgb("red"))
    np.testing.assert_allclose(rgb[1], mcolors.to_rgb("blue"))
    np.testing.assert_allclose(rgb[2], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(rgb[3], [0.2, 0.3, 0.5])


def test_responsibility_colors_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        responsibility_colors(np.ones(3))
    with pytest.raises(ValueError, match="need 3 colors"):
        responsibility_colors(np.ones((2, 3)) / 3, colors=["red", "blue"])


def test_mixture_artists_follow_the_parameters(recorded):
    X, result = recorded
    fig, ax = plt.subplots()
    artists = MixtureArtists(ax, X, 3, n_std=(1.0, 2.0))
    n_patches = len(ax.patches)
    for t in (0, 3, 6):
        params = result.history.params[t]
        artists.update(params.means, params.covariances, result.history.resp[t])
        assert len(ax.patches) == n_patches  # moved in place, nothing added
        for k in range(3):
            for patch, s in zip(artists.ellipses[k], (1.0, 2.0)):
                boundary = _boundary(patch)
                np.testing.assert_allclose(
                    _mahalanobis_sq(boundary, params.means[k], params.covariances[k]), s**2, rtol=1e-6
                )
            np.testing.assert_array_equal(np.ravel(artists.markers[k].get_data()), params.means[k])
        face = artists.scatter.get_facecolors()[:, :3]
        np.testing.assert_allclose(face, responsibility_colors(result.history.resp[t]), atol=1e-12)


def test_mixture_artists_rejects_non_2d_data():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2-D data"):
        MixtureArtists(ax, np.zeros((5, 3)), 2)


def test_em_panel_states_pick_bishops_steps(recorded):
    _, result = recorded
    h = result.history
    states = em_panel_states(h, iterations=(2, 5, 20))
    titles = [title for title, _, _ in states]
    assert titles == ["initial parameters", "first E-step", "first M-step", "after 2 iterations",
                      "after 5 iterations", "after 6 iterations"]  # 20 is clipped to the 6 recorded
    assert states[0][2] is None
    assert states[1][1] is h.params[0] and states[1][2] is h.resp[0]
    assert states[2][1] is h.params[1] and states[2][2] is h.resp[0]
    assert states[4][1] is h.params[5] and states[4][2] is h.resp[5]


def test_plot_em_panels_draws_each_state(recorded):
    X, result = recorded
    fig, axes = plot_em_panels(X, result.history, iterations=(2, 5))
    states = em_panel_states(result.history, iterations=(2, 5))
    assert len(axes) == len(states) == 5 and len(fig.axes) == 5
    for ax, (title, params, _) in zip(axes, states):
        assert ax.get_title() == title
        centers = np.array([p.center for p in ax.patches[::2]])  # first ellipse of each component
        np.testing.assert_allclose(centers, params.means)


def test_animate_em_one_frame_per_recorded_iteration(recorded):
    X, result = recorded
    ll = np.r_[result.initial_objective, result.objectives]
    animation = animate_em(X, result.history, log_likelihoods=ll, interval=50)
    html = animation.to_jshtml()
    assert html.count("frames[") - html.count("frames[i]") >= len(result.history.params)
    # after rendering, the artists show the last frame
    ax, ax_ll = animation._fig.axes
    final = result.history.params[-1]
    centers = np.array([p.center for p in ax.patches[::2]])
    np.testing.assert_allclose(centers, final.means)
    point = ax_ll.lines[-1]
    np.testing.assert_allclose(np.ravel(point.get_data()), [len(ll) - 1, ll[-1]])
    assert ax.get_title() == f"iteration {len(ll) - 1}"


def test_animate_em_title_fits_in_the_frame(recorded):
    """Every frame's title ("iteration t") lies inside the figure (was clipped at the top)."""
    X, result = recorded
    ll = np.r_[result.initial_objective, result.objectives]
    animation = animate_em(X, result.history, log_likelihoods=ll, figsize=(8.0, 3.4), dpi=64)
    fig = animation._fig
    ax = fig.axes[0]
    animation.to_jshtml()  # draws every frame; the last one stays
    fig.canvas.draw()
    box = ax.title.get_window_extent()
    assert ax.get_title() == f"iteration {len(ll) - 1}"
    assert 0 <= box.y0 and box.y1 <= fig.bbox.height, (box, fig.bbox)


def test_animate_em_checks_log_likelihood_length(recorded):
    X, result = recorded
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        animate_em(X, result.history, log_likelihoods=result.objectives)
