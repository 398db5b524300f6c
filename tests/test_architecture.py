"""The folder tree is the architecture: imports point one way between the stages, and no module imports
itself back through others.

Every import counts, also those inside functions (the harness imports heavy libraries lazily).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Shared by every stage: errors, settings, the registry, the results record and its writers, metrics.
FOUNDATION = "foundation"
# A stage may import the foundation and the stages before it, never one after it.
STAGES = ["data", "loading", "baselines", "serve", "run", "tune", "perf"]
ALLOWED = {
    FOUNDATION: {FOUNDATION},
    **{stage: {FOUNDATION, *STAGES[: i + 1]} for i, stage in enumerate(STAGES)},
    # Measurements of the harness may use the leaderboard's statistics.
    "perf": {FOUNDATION, *STAGES, "report"},
    # The leaderboard reads results files only: it never imports what wrote them.
    "report": {FOUNDATION, "report"},
    "cli": {FOUNDATION, *STAGES, "report", "cli"},
    # Backbone declarations see the registry alone; dataset declarations may read with the data stage's readers.
    "models": {"models", FOUNDATION},
    "tasks": {"tasks", FOUNDATION, "data"},
}
MAX_LINES = 320


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in ("benchmark", "models", "tasks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def area(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("models", "tasks"):
        return parts[0]
    if len(parts) > 1 and parts[1] in (*STAGES, "report"):
        return parts[1]
    if module == "benchmark.cli":
        return "cli"
    return FOUNDATION


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_imports_point_one_way_between_stages():
    wrong = [
        f"{source} imports {target} ({area(source)} may import only {sorted(ALLOWED[area(source)])})"
        for source, targets in sorted(graph().items())
        for target in sorted(targets)
        if area(target) not in ALLOWED[area(source)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circles():
    edges = graph()
    circles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                circles.append(
                    " -> ".join(path[path.index(target) :] + [node, target])
                    if target in path
                    else f"{node} -> {target}"
                )
            elif target not in state:
                visit(target, [*path, node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not circles, "\n".join(circles)


def test_each_stage_is_a_folder_that_says_what_it_holds():
    for stage in (*STAGES, "report"):
        init = ROOT / "benchmark" / stage / "__init__.py"
        assert init.is_file(), stage
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_modules_are_small_enough_to_read_in_one_sitting():
    long = {
        name: length
        for name, path in modules().items()
        if (length := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_one_driver_short_enough_to_read_in_a_minute_that_never_asks_what_it_runs():
    """Every kind of run goes through benchmark/run/driver.py; only `method_for` chooses, by the backbone's kind
    and the training mode, and nothing else in the driver names a backbone or a method."""
    from benchmark.registry import list_backbones

    path = ROOT / "benchmark" / "run" / "driver.py"
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) < 100
    tree = ast.parse(source)
    chooser = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "method_for")
    rest = "\n".join(ast.get_source_segment(source, n) or "" for n in tree.body if n is not chooser)
    names = {b.name for b in list_backbones()} | {"FineTune", "LinearProbe", "ClassicBaseline", "ExportVariant"}
    strings = {n.value for n in ast.walk(ast.parse(rest)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    identifiers = {n.id for n in ast.walk(ast.parse(rest)) if isinstance(n, ast.Name)}
    assert not (strings | identifiers) & names, (strings | identifiers) & names


def test_every_method_says_how_it_fits_and_scores_and_nothing_else_of_the_path():
    """The methods fill the interface; none runs the path itself (writing results, assembling records)."""
    from benchmark.run.classic import ClassicBaseline
    from benchmark.run.export import ExportVariant
    from benchmark.run.finetune import FineTune
    from benchmark.run.method import Method
    from benchmark.run.probe import LinearProbe

    for method in (FineTune, LinearProbe, ClassicBaseline, ExportVariant):
        assert issubclass(method, Method)
        assert {"fit", "score", "predictor", "save"} <= set(vars(method)), method.__name__
        assert "record" not in vars(method), f"{method.__name__} assembles its own record"
    for name in ("finetune", "probe", "classic", "export"):
        text = (ROOT / "benchmark" / "run" / f"{name}.py").read_text(encoding="utf-8")
        assert "write_results" not in text and "RunRecord(" not in text, name
