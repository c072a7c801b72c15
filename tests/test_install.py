"""emtutor as a user installs it: a wheel, in a clean virtual environment,
used from a directory outside the repository.

A source checkout hides packaging mistakes (data read from ``book/``, a
module missing from the wheel, an optional dependency imported at top
level): here nothing of the checkout is importable, only the wheel.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SMOKE = textwrap.dedent(
    """
    import importlib.metadata, os, sys
    import numpy as np
    import emtutor
    from emtutor import GaussianMixture, datasets, gmm, plotting

    here = os.path.realpath(emtutor.__file__)
    assert here.startswith(os.path.realpath(sys.prefix)), here  # the wheel, not a checkout
    assert importlib.metadata.version("emtutor") == emtutor.__version__

    X = datasets.old_faithful()
    assert X.shape == (272, 2), X.shape
    Z = (X - X.mean(0)) / X.std(0)
    result = gmm.fit(Z, 2, random_state=0)
    model = GaussianMixture(2, random_state=0).fit(Z)
    assert np.isfinite(result.objective) and model.predict(Z).shape == (272,)
    assert datasets.three_gaussians().shape == (300, 2)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    plotting.plot_mixture(ax, Z, result.means, result.covariances, resp=result.resp)
    fig.savefig("smoke.png")
    print("smoke test passed:", here)
    """
)


def _run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


#: What a source distribution of emtutor holds (the wheel is built from a copy
#: of just these, so that neither a stale ``*.egg-info`` of the editable
#: install nor a ``build/`` folder in the checkout can hide a packaging error).
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "emtutor"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet", "-w", str(dist)])
    (found,) = dist.glob("emtutor-*.whl")
    return found


def test_wheel_carries_the_data_and_complete_metadata(wheel):
    import emtutor

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_string(archive.read(metadata_name).decode())
    assert "emtutor/data/faithful.csv" in names and "emtutor/data/README.md" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("book/", "tests/")) for n in names)
    assert metadata["Version"] == emtutor.__version__
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier")
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers


def test_wheel_works_in_a_clean_environment_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    # the pinned versions of requirements.txt, so pip takes them from its cache
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel), "-c", str(ROOT / "requirements.txt")])
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = _run([str(python), "-c", SMOKE], cwd=workdir, env=env)
    assert "smoke test passed" in done.stdout
    assert (workdir / "smoke.png").stat().st_size > 0
