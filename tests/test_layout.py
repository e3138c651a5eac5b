"""The code keeps its shape: imports run down the layers, the CLI is a skin, modules and functions stay small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ETL = Path(__file__).resolve().parent.parent / "etl"
MODULE_LINES = 350
FUNCTION_LINES = 60

# Top to bottom; a module imports only from its own layer or the layers below it.
LAYERS = [
    ["etl.cli", "etl.__main__"],
    ["etl.api"],
    ["etl.steps"],
    [
        "etl.llm",
        "etl.vectors",
        "etl.vocab",
        "etl.streams",
        "etl.negatives",
        "etl.splits",
        "etl.model_names",
        "etl.term_index",
    ],
    ["etl.config", "etl.warehouse"],
    ["etl.output", "etl.errors", "etl.migrations"],
]


def _modules() -> list[Path]:
    return sorted(ETL.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(ETL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _imports(path: Path) -> set[str]:
    """Every etl module this file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(n if _layer(n) is not None else node.module for n in names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("etl.")}


def _roots(tree: ast.AST) -> set[str]:
    """The top-level packages a module imports (any library, not only etl)."""
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return roots | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_run_down_the_layers(path: Path) -> None:
    here = _layer(_name(path))
    if here is None:  # the package facade (etl/__init__.py) and etl.data/etl.sql hold no code of a layer
        return
    upward = sorted(name for name in _imports(path) if (_layer(name) is not None and _layer(name) < here))
    assert not upward, f"{_name(path)} (layer {here}) imports from a layer above it: {upward}"


def _step(module: str) -> str | None:
    """The step a module belongs to: the direct child of etl.steps it is, or is inside of."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["etl", "steps"] else None


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_steps_never_import_each_other(path: Path) -> None:
    """A step reaches another step's code only through the core below both; the pipeline orchestrates them all."""
    here = _step(_name(path))
    if here is None or here == "pipeline":
        return
    others = sorted({step for step in map(_step, _imports(path)) if step not in (None, here)})
    assert not others, (
        f"{_name(path)} (step {here}) imports the step(s) {others}; move what they share to a core module "
        f"in the layer below the steps ({', '.join(LAYERS[3])}, ...) and import it from both"
    )


def test_the_cli_only_calls_the_api() -> None:
    commands = sorted((ETL / "cli").rglob("*.py"))
    assert len(commands) > 1, "etl/cli/ holds one module per command group"
    for path in commands:
        steps = sorted(name for name in _imports(path) if name.startswith("etl.steps"))
        assert not steps, f"{_name(path)} reaches into {steps}; commands go through etl.api"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert "duckdb" not in _roots(tree), f"{_name(path)} talks to DuckDB itself"
        sql = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        sql = [text for text in sql if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH)\s", text)]
        assert not sql, f"{_name(path)} holds SQL: {sql[0][:60]!r}"


def test_steps_never_import_click() -> None:
    for path in _modules():
        if _layer(_name(path)) not in (None, 0):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert "click" not in _roots(tree), f"{_name(path)} imports click; only etl.cli does"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MODULE_LINES, f"{_name(path)} has {lines} lines; split it along its seams (CONTRIBUTING.md)"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_long_functions_say_why(path: Path) -> None:
    """A function over FUNCTION_LINES lines needs a docstring paragraph beyond its summary line saying why."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            doc = ast.get_docstring(node) or ""
            explained = len([p for p in doc.split("\n\n") if p.strip()]) > 1
            assert length <= FUNCTION_LINES or explained, (
                f"{_name(path)}.{node.name} is {length} lines with no reason in its docstring"
            )


def test_the_formatter_is_never_switched_off() -> None:
    """`ruff format` shapes every line: no `fmt: skip` or `fmt: off` in the package, the tests or the benches."""
    root = ETL.parent
    marker = re.compile(r"#\s*fmt:\s*(skip|off)\b")
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("etl", "tests", "bench")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if marker.search(line)
    ]
    assert not found, f"the formatter is switched off at {', '.join(found)}"
