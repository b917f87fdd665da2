"""Building the artefacts of a new data version in the background: a worker thread that runs
``cli.py prepare`` in a low-priority child process and follows its progress.

The Data page starts one after a load and the Why page after a decision, so the person who
wrote never waits for the analyses; any page that finds an artefact missing starts one too.
There is at most one worker per store in a process; when the data changes while it builds,
it goes round again for the newer version. Another process building the same artefact is
waited for through the artefact's build lock (``store.artefacts.build_lock``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.db import data_versions, get_engine


@dataclass
class BuildJob:
    """The state of one store's worker, read by pages to show progress."""

    url: str
    message: str = "Waiting to start"
    fraction: float = 0.0
    running: bool = True
    report: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.time)
    versions: dict[str, int] = field(default_factory=dict)
    again: bool = False  # a write asked for a build while this one ran


_jobs: dict[str, BuildJob] = {}
_guard = threading.Lock()


CLI = Path(__file__).resolve().parents[1] / "cli.py"


def _lower_priority() -> None:
    # In the child: the planner's page renders keep the CPU first.
    try:
        os.nice(10)
    except OSError:
        pass


def _build(job: BuildJob) -> None:
    """One ``cli.py prepare`` in a child process at low priority: its pandas work does not
    hold this server's interpreter lock while a planner's page renders. Progress comes from
    its ``progress`` lines; the store's URL goes by environment, not on a command line."""
    proc = subprocess.Popen(
        [sys.executable, str(CLI), "prepare", "--json", "--progress"],
        env={**os.environ, "WORKBENCH_DB": job.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_lower_priority if sys.platform != "win32" else None,  # noqa: PLW1509
    )
    assert proc.stdout is not None and proc.stderr is not None
    tail: list[str] = []
    for line in proc.stderr:
        if line.startswith("progress "):
            _, frac, msg = line.rstrip("\n").split(" ", 2)
            job.message, job.fraction = msg, float(frac)
        else:
            tail = [*tail[-20:], line]
    out = proc.stdout.read()
    if proc.wait() not in (0, 1):  # 1: an artefact failed, reported in the JSON
        raise RuntimeError("".join(tail).strip()[-500:] or f"exit {proc.returncode}")
    job.report = json.loads(out)


def _work(job: BuildJob) -> None:
    engine = get_engine(job.url)
    while True:
        try:
            job.versions = data_versions(engine)
            _build(job)
            job.error = None
            changed = data_versions(engine) != job.versions
        except Exception as exc:  # shown on the pages that wait; the next write retries
            job.error = f"{type(exc).__name__}: {exc}"
            changed = False
        with _guard:
            if not (changed or job.again):
                job.running = False
                return
            job.again = False


def start_build(url: str) -> BuildJob:
    """The running worker of the store at ``url``, started now if none is running."""
    versions = data_versions(get_engine(url))
    with _guard:
        job = _jobs.get(url)
        if job is not None and job.running:
            # Go round again only for a version this pass did not start on.
            job.again = job.again or versions != job.versions
            return job
        job = BuildJob(url=url)
        _jobs[url] = job
    threading.Thread(target=_work, args=(job,), name=f"artefacts:{url}", daemon=True).start()
    return job


def current_job(url: str) -> BuildJob | None:
    """The store's latest worker (running or finished), or None."""
    with _guard:
        return _jobs.get(url)


def wait(url: str, timeout: float = 600.0) -> BuildJob | None:
    """Block until the store's worker is done (tests, bench); returns it."""
    deadline = time.monotonic() + timeout
    job = current_job(url)
    while job is not None and job.running and time.monotonic() < deadline:
        time.sleep(0.05)
    return job
