import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic property tests: the same examples on every run and in CI.
settings.register_profile(
    "emtutor", deadline=None, derandomize=True, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("emtutor")


@pytest.fixture
def rng():
    """A fresh, explicitly seeded generator for each test."""
    return np.random.default_rng(20261125)
