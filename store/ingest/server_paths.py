"""Which server paths a bundle may be loaded from through the app.

A path typed on the Data page is resolved (symlinks followed) and must lie inside one
of the configured import folders — ``WORKBENCH_IMPORT_DIRS`` (folders separated by
``os.pathsep``), by default an ``imports/`` folder beside the store. Everything
else, a missing path included, gets one and the same error, so the page neither
reads nor reveals anything outside those folders. (``cli.py load`` is run by the
server's operator and takes any path.)
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from store.ingest.file_problems import BundleError

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = "WORKBENCH_IMPORT_DIRS"


def import_roots(url: str | URL) -> list[Path]:
    """The import folders in force for the store at ``url`` (resolved)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return [Path(p).expanduser().resolve() for p in env.split(os.pathsep) if p.strip()]
    u = url if isinstance(url, URL) else make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return [Path(u.database).resolve().parent / "imports"]
    return [REPO_ROOT / "data" / "imports"]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def confined_path(text: str, url: str | URL) -> Path:
    """The bundle at ``text`` (absolute, or relative to the first import folder), if it
    and, for a folder, every file in it resolve inside an import folder."""
    roots = import_roots(url)
    refusal = BundleError(
        "server paths must name a folder, .zip or .xlsx inside the import folder"
        + ("s " if len(roots) > 1 else " ")
        + ", ".join(str(r) for r in roots)
        + f" ({ENV})"
    )
    raw = Path(text.strip())
    if not text.strip() or "\x00" in text:
        raise refusal
    candidate = raw if raw.is_absolute() else roots[0] / raw
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise refusal from None
    if not _inside(resolved, roots):
        raise refusal
    if resolved.is_dir():
        for entry in resolved.iterdir():
            if entry.is_file() and not _inside(entry.resolve(), roots):
                raise refusal
    return resolved
