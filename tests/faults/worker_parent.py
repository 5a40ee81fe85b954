"""Celery workers forked from one warm parent per environment, for the fault tests.

A worker that starts from nothing spends about a second of CPU importing Django, Celery and
Tack before it takes its first task, and the fault suite starts some thirty-five of them
(every SIGKILL is followed by a new worker). Here one parent process per environment does
that once and forks each worker from it, as Celery's own prefork pool forks its children
from a loaded parent: a worker is still a whole process of its own, killed with SIGKILL,
sharing nothing with the others but the code loaded before the fork. The parent opens no
connection (database, broker, cache) before it forks.

``python -m tests.faults.worker_parent STATUS_DIR`` reads one JSON line per worker on stdin
(``[log_path, *celery_worker_argv]``), answers each with the forked worker's pid, and writes
``STATUS_DIR/<pid>`` with the worker's return code when it ends (``-9`` after SIGKILL, as
``subprocess.Popen.returncode`` says it).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


class ForkedWorker:
    """What the fault tests use of ``subprocess.Popen`` for a worker the parent forked."""

    def __init__(self, pid: int, status_dir: Path):
        self.pid = pid
        self._status = status_dir / str(pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._status.exists():
            text = self._status.read_text()
            if text.endswith("\n"):  # written whole
                self.returncode = int(text)
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

    def fork(self, log: Path, argv: list[str]) -> ForkedWorker:
        self.process.stdin.write(json.dumps([str(log), *argv]) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the worker parent ended ({self.process.wait()})")
        return ForkedWorker(int(answer), self.status_dir)

    def stop(self) -> None:
        """Ends the parent (its workers, stopped by their tests, are not touched)."""
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
    import celery.bin.celery
    import celery.concurrency.solo
    import celery.worker.consumer  # noqa: F401
    import kombu.transport.redis  # noqa: F401

    def reap(signum, frame):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            partial = status_dir / f".{pid}"
            partial.write_text(f"{code}\n")
            partial.rename(status_dir / str(pid))

    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        log, *argv = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _worker(log, argv, app)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


def _worker(log: str, argv: list[str], app) -> None:
    """In the forked child: the worker's output to its log, then Celery's own worker."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        app.worker_main(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
