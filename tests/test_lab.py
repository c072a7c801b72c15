"""`make lab` as a reader runs it: the server starts (as root too, as in most
containers), serves book/, and its kernel is this project's Python with this
checkout's emtutor.

The test runs the Makefile's own `lab` target headless on a free port, talks
to the server through its REST API (and the kernel's websocket channel, the
way JupyterLab itself runs a cell), then shuts it down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, token: str):
        self.base = f"http://127.0.0.1:{port}"
        self.port, self.token = port, token

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as response:
            text = response.read().decode()
            return json.loads(text) if text else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not (VENV / "bin" / "jupyter").exists():
        pytest.fail(f"no jupyter in {VENV}: run the tests with the project's environment (make test)")
    port, token = _free_port(), secrets.token_hex(16)
    tmp = tmp_path_factory.mktemp("lab")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTER_CONFIG_DIR=str(tmp / "config"))
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    # -o: use the environment as it is (never reinstall it from inside a test)
    command = ["make", "--no-print-directory", "-o", f"{VENV}/.installed", "lab", f"VENV={VENV}",
               f"LAB_ARGS={lab_args}"]
    log = open(tmp / "lab.log", "w+")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = Server(port, token)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"`make lab` exited with {process.returncode} before serving:\n{log.read()[-3000:]}")
            try:
                server.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"`make lab` did not answer in {STARTUP_SECONDS} s:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        yield server
        try:
            server.request("POST", "/api/shutdown")
        except (urllib.error.URLError, ConnectionError):
            pass
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


def test_lab_serves_the_chapters(lab):
    listing = lab.request("GET", "/api/contents/")
    names = {item["name"] for item in listing["content"]}
    assert {"three_gaussians.ipynb", "hmm_casino.ipynb", "lda_bars.ipynb"} <= names, sorted(names)


async def _execute(server: Server, kernel_id: str, code: str) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
    connection = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {server.token}"}))
    msg_id = uuid.uuid4().hex
    await connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    out, errors = [], []
    while True:
        raw = await asyncio.wait_for(connection.read_message(), timeout=120)
        assert raw is not None, "the kernel's websocket closed"
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            errors.append("\n".join(msg["content"]["traceback"]))
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    connection.close()
    assert not errors, errors
    return "".join(out)


def test_lab_kernel_runs_this_projects_emtutor(lab):
    kernel = lab.request("POST", "/api/kernels", {"name": "python3"})
    try:
        code = "import sys, emtutor\nprint(emtutor.__file__)\nprint(sys.prefix)"
        # in a thread of its own: an earlier test (Playwright's sync API) may
        # leave an event loop set in this thread, where asyncio.run refuses to run
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            printed = pool.submit(asyncio.run, _execute(lab, kernel["id"], code)).result().split()
        package, prefix = Path(printed[0]).resolve(), Path(printed[1]).resolve()
        assert package == (ROOT / "emtutor" / "__init__.py").resolve()
        assert prefix == VENV.resolve()
    finally:
        lab.request("DELETE", f"/api/kernels/{kernel['id']}")
