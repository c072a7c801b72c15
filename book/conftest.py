"""nbval settings for the chapters (``pytest book --nbval``).

A kernel that dies while starting is retried. Jupyter picks a kernel's five
ports by binding to free ones and releasing them; the kernel binds them again
a moment later, and another process starting a kernel at the same time (the
parallel workers of ``make test``) can take one in between. The kernel then
exits with "Address already in use" and nbval reports every cell of that
chapter as an error ("Kernel died before replying to kernel_info"), although
no chapter is at fault. This is a known race in Jupyter's kernel start
(jupyter/jupyter_client issue 154; ipykernel pull request 412 retries inside
the kernel only for its own ports). nbval sends the kernel's stderr to
/dev/null; here it goes to a temporary file whose end is quoted if every
attempt fails, so a real start-up crash is still reported, with its cause.
"""

import sys
import tempfile

import nbval.kernel

ATTEMPTS = 3
_nbval_start_new_kernel = nbval.kernel.start_new_kernel


def start_new_kernel(*args, **kwargs):
    """nbval's ``start_new_kernel``, tried up to ``ATTEMPTS`` times if the kernel dies."""
    devnull = kwargs.pop("stderr", None)  # nbval opens /dev/null for it
    if devnull is not None:
        devnull.close()
    for attempt in range(1, ATTEMPTS + 1):
        with tempfile.TemporaryFile("w+") as stderr:
            kwargs["stderr"] = stderr
            try:
                return _nbval_start_new_kernel(*args, **kwargs)
            except RuntimeError as exc:
                if "Kernel died" not in str(exc):
                    raise
                stderr.seek(0)
                tail = stderr.read()[-2000:]
                if attempt == ATTEMPTS:
                    raise RuntimeError(
                        f"{exc} ({ATTEMPTS} attempts); the kernel's stderr ended with:\n{tail}"
                    ) from exc
                print(
                    f"nbval kernel died while starting (attempt {attempt} of {ATTEMPTS}); "
                    f"starting another. Its stderr ended with:\n{tail}",
                    file=sys.stderr,
                )
    raise AssertionError("unreachable")


nbval.kernel.start_new_kernel = start_new_kernel
