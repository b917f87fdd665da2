"""Building the artefacts of a new data version in a background worker thread.

The Data page starts one after a load and the Why page after a decision, so the person who
wrote never waits for the analyses; any page that finds an artefact missing starts one too.
There is at most one worker per store in a process; when the data changes while it builds,
it goes round again for the newer version. Another process building the same artefact is
waited for through the artefact's build lock (``store.artefacts.build_lock``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flows.artefacts import build_all
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


def _lower_priority() -> None:
    # Linux nice values are per thread: the planner's page renders keep the CPU first.
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass


def _work(job: BuildJob) -> None:
    _lower_priority()
    engine = get_engine(job.url)

    def step(msg: str, frac: float) -> None:
        job.message, job.fraction = msg, frac

    while True:
        try:
            job.versions = data_versions(engine)
            job.report = build_all(engine, progress=step)
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
