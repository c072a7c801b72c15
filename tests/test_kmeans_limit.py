"""K-means as the sigma -> 0 limit of EM for a mixture with shared covariance sigma^2 I."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from emtutor import gmm


def spherical_params(means, sigma):
    k, d = means.shape
    return gmm.GMMParams(np.full(k, 1.0 / k), means, np.repeat((sigma**2 * np.eye(d))[None], k, axis=0))


def hard_em_step(X, means, sigma):
    """One EM iteration with weights 1/K and covariances sigma^2 I held fixed."""
    resp, _ = gmm.e_step(X, spherical_params(means, sigma))
    return resp, gmm.m_step(X, resp).means


def lloyd_step(X, means):
    labels = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    return labels, np.array([X[labels == k].mean(axis=0) for k in range(len(means))])


@pytest.fixture
def blobs(rng):
    centres = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 4.0], [5.0, 5.0]])
    X = np.vstack([c + rng.normal(size=(60, 2)) for c in centres])
    init = X[rng.choice(len(X), 4, replace=False)]
    return X, init


def test_responsibilities_harden_as_sigma_shrinks(blobs):
    X, means = blobs
    labels, _ = lloyd_step(X, means)
    one_hot = np.eye(len(means))[labels]
    errors = []
    for sigma in [3.0, 1.0, 0.3, 0.1, 0.03, 0.01]:
        resp, _ = gmm.e_step(X, spherical_params(means, sigma))
        errors.append(np.max(np.abs(resp - one_hot)))
    assert np.all(np.diff(errors) <= 1e-15)  # monotone approach
    assert errors[0] > 0.1 and errors[-1] < 1e-12
    resp, _ = gmm.e_step(X, spherical_params(means, 1e-3))
    np.testing.assert_array_equal(np.argmax(resp, axis=1), labels)


def test_hard_em_iterations_equal_lloyd_iterations(blobs):
    X, means_em = blobs
    means_lloyd = means_em.copy()
    for _ in range(20):
        resp, means_em = hard_em_step(X, means_em, sigma=1e-3)
        labels, means_lloyd = lloyd_step(X, means_lloyd)
        np.testing.assert_array_equal(np.argmax(resp, axis=1), labels)
        np.testing.assert_allclose(means_em, means_lloyd, rtol=1e-12, atol=1e-12)


def test_hard_em_limit_matches_scikit_learn_kmeans(blobs):
    X, init = blobs
    means = init.copy()
    for _ in range(100):
        resp, new = hard_em_step(X, means, sigma=1e-3)
        if np.array_equal(new, means):
            break
        means = new
    km = KMeans(4, init=init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(X)
    np.testing.assert_allclose(means, km.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(np.argmax(resp, axis=1), km.labels_)


def test_soft_em_differs_from_kmeans_at_moderate_sigma(blobs):
    """The reduction needs sigma -> 0: at sigma = 1 the soft means are not Lloyd's."""
    X, means = blobs
    _, soft = hard_em_step(X, means, sigma=1.0)
    _, hard = lloyd_step(X, means)
    assert np.max(np.abs(soft - hard)) > 1e-2
