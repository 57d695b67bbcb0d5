"""The package import graph flows one way: engine ← offline / online ← server, tasks ← command line and adapters.

Read from the source (the AST of every module, imports inside functions included), not from ``sys.modules``: an
import that breaks a cycle by hiding in a function body is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import openfeat_core

ROOT = Path(openfeat_core.__file__).parent

#: Package → the openfeat_core packages its modules must not import. ``openfeat_core`` itself stands for the root
#: package, whose ``__init__`` imports offline and online.
FORBIDDEN: dict[str, frozenset[str]] = {
    # Below the engine: columns, types, the function library, plans and the SQL front end.
    "column": frozenset({"engine", "offline", "online", "tasks", "cli", "openfeat_core"}),
    "types": frozenset({"engine", "offline", "online", "tasks", "cli", "openfeat_core"}),
    "functions": frozenset({"engine", "offline", "online", "tasks", "cli", "openfeat_core"}),
    "plan": frozenset({"engine", "offline", "online", "tasks", "cli", "openfeat_core"}),
    "sql": frozenset({"engine", "offline", "online", "tasks", "cli", "openfeat_core"}),
    # The engine is mode-neutral: it knows neither offline work nor online serving.
    "engine": frozenset({"offline", "online", "server", "tasks", "cli", "workspace", "io", "openfeat_core"}),
    "offline": frozenset({"online", "server", "tasks", "cli"}),
    # Online serving knows neither offline work nor offline storage; the statement runner and the HTTP service above
    # both (server/) hand it parsed statements.
    "online": frozenset({"offline", "workspace", "server", "tasks", "cli"}),
    "server": frozenset({"tasks", "cli"}),
    # Naming, reading and writing data (io) sits below everything that uses data; the workspace sits on io's one
    # resolver (io.location) and knows nothing of computing or serving.
    "io": frozenset({"engine", "offline", "online", "server", "tasks", "cli", "workspace", "openfeat_core"}),
    "workspace": frozenset({"engine", "offline", "online", "server", "tasks", "cli", "openfeat_core"}),
    # Feature statistics, reference profiles and the monitor's comparison: the service and the tasks use them, not
    # the other way round.
    "monitoring": frozenset({"server", "tasks", "cli"}),
}


def _imported(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """The openfeat_core modules ``source`` (the text of ``module``) imports, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return {name for name in found if name == "openfeat_core" or name.startswith("openfeat_core.")}


def _imported_by(path: Path) -> set[str]:
    """The openfeat_core modules the file ``path`` (under ``openfeat_core/``) imports."""
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        return _imported(path.read_text(), module.removesuffix(".__init__"), is_package=True)
    return _imported(path.read_text(), module)


def _package_of(module: str) -> str:
    """``openfeat_core.engine.executor`` → ``engine``; the root package → ``openfeat_core``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules(package: str) -> list[Path]:
    """The source files of ``openfeat_core.<package>`` (a package directory or a single module)."""
    single = ROOT / f"{package}.py"
    return [single] if single.exists() else sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_above_it(package: str) -> None:
    modules = _modules(package)
    assert modules, f"no modules found for openfeat_core.{package}"
    wrong = sorted(
        f"{path.relative_to(ROOT.parent)} imports {name}"
        for path in modules
        for name in _imported_by(path)
        if _package_of(name) in FORBIDDEN[package] and _package_of(name) != package
    )
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_deferred_and_relative_imports() -> None:
    # The check is only as good as its reading of the source: an import inside a function counts, and a relative
    # import counts as the module it names.
    source = (
        "import numpy\n"
        "from . import relation\n"
        "from ..online.store import OnlineStore\n"
        "def f() -> None:\n"
        "    import openfeat_core.tasks\n"
    )
    assert _imported(source, "openfeat_core.engine.executor") == {
        "openfeat_core.engine",
        "openfeat_core.online.store",
        "openfeat_core.tasks",
    }
