"""Celery workers forked from a warm parent, for the fault tests.

A worker that starts from nothing spends about a second of CPU importing Django, Celery and
Tack before it takes its first task, and the fault suite starts some thirty-five of them
(every SIGKILL is followed by a new worker). Here a test's first worker starts a parent
process for the test's environment, which does that once and forks each of the test's
workers from it, as Celery's own prefork pool forks its children from a loaded parent: a
worker is still a whole process of its own, killed with SIGKILL, sharing nothing with the
others but the code loaded before the fork. The parent opens no connection (database,
broker, cache) before it forks. ``tests/winback/test_worker.py`` still starts its workers
with ``python -m celery worker``, so that command line stays tested.

``python -m tests.faults.worker_parent STATUS_DIR`` reads one JSON line per worker on stdin
(``[log_path, *celery_worker_argv]``) and answers each with ``<pid> <n>``: the forked
worker's pid and its number, under which it writes ``STATUS_DIR/<n>`` with the worker's
return code when it ends (``-9`` after SIGKILL, as ``subprocess.Popen.returncode`` says
it). At the end of its input it kills the workers still running (a test that did not stop
its own) and waits for them.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import celery.bin.celery


class ForkedWorker:
    """What the fault tests use of ``subprocess.Popen`` for a worker the parent forked."""

    def __init__(self, pid: int, status: Path):
        self.pid = pid
        self._status = status
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._status.exists():
            self.returncode = int(self._status.read_text())  # renamed into place whole
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # ended, not yet reported
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class WorkerParent:
    """The warm parent for one environment (started on its first worker)."""

    def __init__(self, env: dict, cwd: Path, status_dir: Path):
        self.status_dir = status_dir
        status_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.worker_parent", str(status_dir)],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()

    def fork(self, log: Path, argv: list[str]) -> ForkedWorker:
        with self._lock:  # a request and its answer, whichever thread asks
            self.process.stdin.write(json.dumps([str(log), *argv]) + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the worker parent ended ({self.process.wait()})")
        pid, number = answer.split()
        return ForkedWorker(int(pid), self.status_dir / number)

    def stop(self) -> None:
        """Ends the parent, which kills the workers its test left running."""
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.status_dir, ignore_errors=True)


def _serve(status_dir: Path) -> None:
    import django

    django.setup()
    from config.celery import app

    app.loader.import_default_modules()
    # What `celery worker` itself imports as it starts.
    import celery.apps.worker
    import celery.concurrency.solo
    import celery.worker.consumer  # noqa: F401
    import kombu.transport.redis  # noqa: F401

    numbers: dict[int, int] = {}  # running worker's pid → its number

    def reap(signum, frame):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            number = numbers.pop(pid)
            partial = status_dir / f".{number}"
            partial.write_text(str(os.waitstatus_to_exitcode(status)))
            partial.rename(status_dir / str(number))

    signal.signal(signal.SIGCHLD, reap)
    for number, line in enumerate(sys.stdin):
        log, *argv = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        # Held back until the new worker is in ``numbers``, however soon it ends.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            _worker(log, argv, app)
        numbers[pid] = number
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        sys.stdout.write(f"{pid} {number}\n")
        sys.stdout.flush()
    for pid in list(numbers):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while numbers and time.monotonic() < deadline:
        time.sleep(0.05)  # the SIGCHLD handler reaps them


def _worker(log: str, argv: list[str], app) -> None:
    """In the forked child: the worker's output to its log, then Celery's own command."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        # What `celery -A config worker …` runs (app.worker_main drops the exit code;
        # outside standalone mode click returns it).
        celery.bin.celery.celery.params[0].default = app
        code = celery.bin.celery.celery.main(args=argv, standalone_mode=False) or 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
