"""The house's shape holds: arrows only downward, no import circle, small folders and modules,
pages/ holding only the registered pages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("analytics", "store", "flows", "ui", "contract", "pages")
# Which first-party packages each floor may import (contract/ is the ground floor).
MAY_IMPORT: dict[str, set[str]] = {
    "contract": {"contract"},
    "analytics": {"analytics", "contract"},
    "store": {"store", "contract"},
    "flows": {"flows", "analytics", "store", "contract"},
    "ui": {"ui", "flows", "analytics", "store", "contract"},
    "pages": {"ui", "flows", "analytics", "store", "contract"},
}
MAX_MODULES = 15
MAX_LINES = 420  # "about 400": split a module by meaning before it grows past this
# The house style keeps every Streamlit cache wrapper in one module (ui/cache.py), one
# short wrapper per cached read: it may grow with the pages it serves.
LONGER: dict[str, int] = {"ui/cache.py": 700}


def _modules() -> list[Path]:
    files = [REPO / "cli.py", REPO / "app.py"]
    for pkg in PACKAGES:
        files += sorted((REPO / pkg).rglob("*.py"))
    return files


def _name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """First-party modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in PACKAGES}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_arrows_only_point_down(path: Path) -> None:
    floor = path.relative_to(REPO).parts[0]
    if floor not in MAY_IMPORT:
        return  # cli.py and app.py sit on top of everything
    wrong = {m for m in _imports(path) if m.split(".")[0] not in MAY_IMPORT[floor]}
    assert not wrong, f"{path.relative_to(REPO)} ({floor}/) imports {sorted(wrong)}"


def test_no_import_circle() -> None:
    modules = {_name(p): p for p in _modules()}
    graph = {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError(
                "import circle: " + " → ".join([*trail[trail.index(name) :], name])
            )
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_folders_and_modules_stay_small() -> None:
    for folder in {p.parent for p in _modules()} | {REPO / "tests"}:
        n = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        assert n <= MAX_MODULES, f"{folder.relative_to(REPO)}/ holds {n} modules"
    for path in _modules():
        n = len(path.read_text(encoding="utf-8").splitlines())
        limit = LONGER.get(str(path.relative_to(REPO)), MAX_LINES)
        assert n <= limit, f"{path.relative_to(REPO)} has {n} lines"


def test_pages_folder_holds_only_the_registered_pages() -> None:
    app = (REPO / "app.py").read_text(encoding="utf-8")
    for path in (REPO / "pages").iterdir():
        if path.name == "__pycache__":
            continue
        assert path.suffix == ".py" and f'"pages/{path.name}"' in app, path.name
