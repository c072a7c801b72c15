"""Tests of emtutor.widgets, driving the explorer programmatically (Agg backend, no kernel)."""

import importlib
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from emtutor import datasets, gmm  # noqa: E402
from emtutor.plotting import responsibility_colors  # noqa: E402
from emtutor.widgets import EMRun, em_explorer, fit_run  # noqa: E402


@pytest.fixture(scope="module")
def X():
    return datasets.three_gaussians()


@pytest.fixture
def explorer(X):
    return em_explorer(X, n_components=3, seed=0)


def _drawn_means(explorer):
    return np.array([np.ravel(marker.get_data()) for marker in explorer._artists.markers])


def test_initial_display_shows_the_first_fit(explorer, X):
    run = explorer.run()
    direct = gmm.fit(X, 3, init="k-means++", random_state=0, max_iter=300, record=True)  # oracle: the package's own fit
    assert explorer.n_fits == 1
    assert run.n_iter == direct.n_iter and explorer.iteration.max == direct.n_iter
    np.testing.assert_array_equal(run.params[-1].means, direct.means)
    np.testing.assert_array_equal(run.log_likelihoods, np.r_[direct.initial_objective, direct.objectives])
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(explorer.redraw_seconds) == 1


def test_slider_redraws_without_refitting(explorer, X):
    run = explorer.run()
    images = []
    for t in range(run.n_iter + 1):
        explorer.iteration.value = t
        np.testing.assert_array_equal(_drawn_means(explorer), run.params[t].means)
        face = explorer._artists.scatter.get_facecolors()[:, :3]
        np.testing.assert_allclose(face, responsibility_colors(run.resp[t]), atol=1e-12)
        marked = np.ravel(explorer._ll_point.get_data())
        np.testing.assert_allclose(marked, [t, gmm.log_likelihood(X, run.params[t])], rtol=1e-12)
        images.append(explorer.image.value)
    assert explorer.n_fits == 1  # the slider never refits
    assert len(explorer.redraw_seconds) == 1 + run.n_iter  # value 0 -> 0 does not fire
    # the picture follows the slider: every drawn iteration differs from the others
    # (a chain a != b != c would never compare the first with the last)
    assert len(set(images)) == len(images)


def test_settings_are_fitted_once_and_cached(explorer, X):
    explorer.n_components.value = 2
    assert explorer.n_fits == 2
    assert len(explorer._artists.markers) == 2
    two = explorer.run()
    explorer.seed.value = 5
    assert explorer.n_fits == 3
    explorer.n_components.value = 3
    explorer.seed.value = 0
    assert explorer.n_fits == 4  # (3, seed 5) was new; (3, seed 0) is cached
    np.testing.assert_array_equal(_drawn_means(explorer)[:3], explorer.run().params[explorer.iteration.value].means)
    explorer.n_components.value = 2
    assert explorer.n_fits == 4 and explorer.run() is two
    direct = gmm.fit(X, 2, init="k-means++", random_state=0, max_iter=300)
    np.testing.assert_array_equal(two.params[-1].means, direct.means)


def test_slider_is_clipped_when_a_shorter_fit_is_selected(explorer):
    explorer.iteration.value = explorer.iteration.max
    explorer.n_components.value = 1  # one component converges in two iterations
    run = explorer.run()
    assert explorer.iteration.max == run.n_iter == 2
    assert explorer.iteration.value == 2
    np.testing.assert_array_equal(_drawn_means(explorer), run.params[2].means)


def test_init_method_is_passed_to_the_fit(explorer, X):
    explorer.init.value = "random_from_data"
    assert explorer.n_fits == 2
    direct = gmm.fit(X, 3, init="random_from_data", random_state=0, max_iter=300)
    np.testing.assert_array_equal(explorer.run().params[-1].means, direct.means)
    assert not np.array_equal(explorer.run().params[0].means, explorer.run(init="k-means++").params[0].means)


def test_fit_run_reports_non_convergence_instead_of_warning(X):
    run = fit_run(X, 3, "random_from_data", 0, max_iter=3)
    assert isinstance(run, EMRun) and run.n_iter == 3 and not run.converged
    assert "did not converge" in run.message


def test_failed_fit_is_shown_not_raised():
    # points on a line: with reg_covar=0 the default initial covariance (the data's) is singular
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    explorer = em_explorer(X, n_components=2, reg_covar=0.0)
    assert isinstance(explorer.run(), str)
    assert "fit failed" in explorer.status.value and "positive definite" in explorer.status.value
    assert explorer.iteration.max == 0 and explorer.n_fits == 1
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input(X):
    with pytest.raises(ValueError, match="2 columns"):
        em_explorer(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="unknown init"):
        em_explorer(X, init="magic")
    with pytest.raises(ValueError, match="unknown init"):
        fit_run(X, 2, "magic", 0)
    with pytest.raises(ValueError, match="n_components"):
        em_explorer(X, n_components=0)


def test_ipywidgets_is_optional(monkeypatch, X):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    module = importlib.reload(importlib.import_module("emtutor.widgets"))
    try:
        with pytest.raises(ImportError, match="pip install 'emtutor\\[widgets\\]'"):
            module.em_explorer(X)
        assert module.fit_run(X, 2, "random_from_data", 0).n_iter >= 1  # the rest still works
    finally:
        monkeypatch.undo()
        importlib.reload(module)


def test_display_offers_a_sharp_still_for_pages_without_a_kernel(explorer):
    """The static book shows the image/png of the bundle: the current picture at 2x."""
    from PIL import Image
    import io

    data, metadata = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data  # Jupyter still gets the panel
    still = Image.open(io.BytesIO(data["image/png"]))
    shown = metadata["image/png"]
    assert still.size == (2 * shown["width"], 2 * shown["height"])
    # the still is the picture of the panel: the current image, at twice its size
    panel = Image.open(io.BytesIO(explorer.image.value))
    assert panel.size == (shown["width"], shown["height"])
    small = np.asarray(still.convert("RGB").resize(panel.size, Image.Resampling.BOX), dtype=float)
    # (resampling alone differs by about 3 grey levels on average; a still without
    # the points and ellipses by about 6)
    assert np.abs(small - np.asarray(panel.convert("RGB"), dtype=float)).mean() < 4.5
    # taking the still leaves the slider's drawing intact
    before = explorer.image.value
    explorer.iteration.value = explorer.iteration.max
    explorer.iteration.value = 0
    assert explorer.image.value == before
