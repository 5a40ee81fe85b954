"""The house's layering, checked on the source: imports run one way between the apps, and
no module imports another that (directly or through others) imports it back — counting the
imports inside functions, which is where circles hide."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lower layers first; an app may import its own layer's app only if it is itself.
LAYERS = {
    "core": 0,
    "subscriptions": 1,
    "desk": 2,
    "cancellations": 3,
    "winback": 4,
    "privacy": 5,
    "retention": 5,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, wherever the import statement stands."""
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or _module_name(path)).split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def source_graph() -> dict[str, set[str]]:
    files = [
        path
        for app in LAYERS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]
    modules = {_module_name(path): path for path in files}
    return {
        name: {target for target in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_imports_run_one_way_between_the_apps():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in source_graph().items()
        for target in targets
        if (app := module.split(".")[0]) != (other := target.split(".")[0])
        and LAYERS[other] >= LAYERS[app]
    )
    assert upward == []


def test_no_module_imports_itself_through_others():
    graph = source_graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []
