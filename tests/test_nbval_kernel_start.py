"""book/conftest.py: a chapter's kernel that dies while starting is started again.

The defect this guards against: CI's `make test-kernels` once reported all six
cells of one chapter as "Kernel died before replying to kernel_info" (a port
race between the parallel workers' kernel starts, not the chapter).
"""

import importlib.util
import os
from pathlib import Path

import nbval.kernel
import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "book" / "conftest.py"


@pytest.fixture
def book_conftest(monkeypatch):
    # Loading the file patches nbval.kernel again; undo that at teardown.
    monkeypatch.setattr(nbval.kernel, "start_new_kernel", nbval.kernel.start_new_kernel)
    spec = importlib.util.spec_from_file_location("emtutor_book_conftest", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dies(times, calls):
    """A stand-in for nbval's start that fails `times` times like a port clash."""

    def start(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) <= times:
            kwargs["stderr"].write("zmq.error.ZMQError: Address already in use\n")
            kwargs["stderr"].flush()
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "manager", "client"

    return start


def test_the_chapters_use_the_retrying_start(book_conftest):
    assert nbval.kernel.start_new_kernel is book_conftest.start_new_kernel


def test_a_kernel_that_dies_once_is_started_again(book_conftest, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(book_conftest, "_nbval_start_new_kernel", dies(1, calls))
    assert book_conftest.start_new_kernel(kernel_name="python3") == ("manager", "client")
    assert len(calls) == 2
    assert "Address already in use" in capsys.readouterr().err


def test_a_kernel_that_always_dies_is_reported_with_its_stderr(book_conftest, monkeypatch):
    calls = []
    monkeypatch.setattr(book_conftest, "_nbval_start_new_kernel", dies(99, calls))
    with pytest.raises(RuntimeError, match="(?s)3 attempts.*Address already in use"):
        book_conftest.start_new_kernel(kernel_name="python3")
    assert len(calls) == book_conftest.ATTEMPTS


def test_other_errors_are_not_retried(book_conftest, monkeypatch):
    calls = []

    def start(*args, **kwargs):
        calls.append(kwargs)
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(book_conftest, "_nbval_start_new_kernel", start)
    with pytest.raises(RuntimeError, match="didn't respond"):
        book_conftest.start_new_kernel(kernel_name="python3")
    assert len(calls) == 1


def test_a_real_kernel_starts_through_it(book_conftest, tmp_path):
    # Called as nbval calls it (nbval.kernel.RunningKernel), with its /dev/null.
    km, kc = book_conftest.start_new_kernel(
        kernel_name=nbval.kernel.CURRENT_ENV_KERNEL_NAME,
        cwd=str(tmp_path),
        startup_timeout=60,
        stderr=open(os.devnull, "w"),
    )
    try:
        assert km.is_alive()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
