"""The anyviz package reads one way: no module needs a module that needs it back, and no module
reaches into another's private names.

The import graph is built with the standard library's `ast` from every `.py` file under the
package. Both module-level imports AND imports inside function bodies count as edges: a cycle
deferred into a function is still two modules that need each other, so it is reported too.
Only imports of the package's own modules are edges; third-party and standard modules are ignored.
"""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "Sources", "AnyVizPython", "Resources", "anyviz")


def _modules():
    """Dotted module name -> file path for every module of the package."""
    base = os.path.dirname(PACKAGE)
    found = {}
    for dirpath, _, filenames in os.walk(PACKAGE):
        for filename in filenames:
            if filename.endswith(".py"):
                path = os.path.join(dirpath, filename)
                name = os.path.relpath(path, base)[:-3].replace(os.sep, ".")
                found[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return found


def _parse(path):
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), path)


def _absolute(module, path, node):
    """The absolute module a `from ... import` names, resolving relative levels."""
    if not node.level:
        return node.module or ""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    parts = package.split(".")
    anchor = ".".join(parts[:len(parts) - node.level + 1])
    return f"{anchor}.{node.module}" if node.module else anchor


def _owner(name, modules):
    """The package module that `name` lives in (longest known prefix), or None."""
    while name:
        if name in modules:
            return name
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return None


def _imports(modules):
    """(importer, imported module, imported names or None, line) for every import in the package."""
    for module, path in modules.items():
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield module, alias.name, None, node.lineno
            elif isinstance(node, ast.ImportFrom):
                yield module, _absolute(module, path, node), [a.name for a in node.names], node.lineno


def _graph(modules):
    graph = {m: set() for m in modules}
    for module, target, names, _ in _imports(modules):
        candidates = [target] + [f"{target}.{n}" for n in names or []]
        for candidate in candidates:
            owner = _owner(candidate, modules)
            # A package's __init__ is not an edge from its own submodules (Python loads it first anyway).
            if owner and owner != module and not module.startswith(owner + "."):
                graph[module].add(owner)
    return graph


def _cycles(graph):
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_modules():
    modules = _modules()
    assert "anyviz.viz.planner" in modules and "anyviz.viz.recommend" in modules
    assert len(modules) > 30


def test_no_import_cycles_counting_function_level_imports():
    cycles = _cycles(_graph(_modules()))
    assert cycles == [], "modules that import each other (directly or around a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_cycle_finder_sees_a_cycle_hidden_in_a_function():
    """The checker itself can fail: a deferred import back is still a cycle."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(graph) == [["a", "b"]]


def test_no_private_names_imported_across_modules():
    modules = _modules()
    offenders = []
    for module, target, names, line in _imports(modules):
        owner = _owner(target, modules)
        if owner is None or owner == module:
            continue
        for name in names or []:
            if name.startswith("_") and not name.startswith("__") and f"{target}.{name}" not in modules:
                offenders.append(f"{module}:{line} imports {target}.{name}")
    assert offenders == []


def test_no_private_attributes_read_across_modules():
    """Reading `other_module._name` is the same reach-in as importing `_name`. (Assigning one, as a
    test seam or a bridge swap does, is not a read.)"""
    modules = _modules()
    offenders = []
    for module, path in modules.items():
        tree = _parse(path)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _absolute(module, path, node)
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__") and aliases[node.value.id] != module):
                offenders.append(f"{module}:{node.lineno} reads {aliases[node.value.id]}.{node.attr}")
    assert offenders == []


@pytest.mark.parametrize("layer,forbidden", [
    ("anyviz.viz.nlp", ("anyviz.viz.planner", "anyviz.viz.recommend")),
    ("anyviz.viz.plan_schema", ("anyviz.viz.nlp", "anyviz.viz.planner", "anyviz.viz.recommend")),
    ("anyviz.viz.recommend", ("anyviz.viz.planner",)),
])
def test_the_planner_layers_point_one_way(layer, forbidden):
    """The request flows nlp -> schema -> planner -> recommend: the planner calls the others, the
    reader of words (nlp) only knows the frame's schema, and recommend is handed what it needs."""
    graph = _graph(_modules())
    assert not graph[layer] & set(forbidden)


@pytest.mark.parametrize("relative", ["viz/planner.py", "viz/customize.py"])
def test_planner_and_customize_functions_are_short(relative):
    """The planner's and %customize's decisions are split by intent: no function over 60 lines."""
    tree = _parse(os.path.join(PACKAGE, relative))
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 60]
    assert long == []


@pytest.mark.parametrize("core", ["anyviz.display", "anyviz.shell", "anyviz.runtime", "anyviz.iopub",
                                  "anyviz.streams", "anyviz.comms"])
def test_kernel_core_reaches_charts_and_data_through_registration(core):
    """The kernel core imports no chart, data or engine module: those register themselves
    (e.g. display.register_figure_bundle, as IPython formatters' `for_type`)."""
    graph = _graph(_modules())
    reached = {m for m in graph.get(core, ()) if m.startswith(("anyviz.viz", "anyviz.data", "anyviz.engines"))}
    assert reached == set()
