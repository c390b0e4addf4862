"""Import contract: layers only point down (STYLE.md, "Layers only point down").

Reads every ``crs_model/**/*.py`` with :mod:`ast` (nothing is imported) and
collects each import of a ``crs_model`` module: module-level, function-local,
and ``importlib.import_module("crs_model...")`` with a literal name. Then:

* every module belongs to a layer of :data:`LAYERS`;
* no module imports a module of a higher layer;
* a backend imports another backend only where :data:`BACKEND_USES` declares it;
* no module imports another package's private module or ``_name``;
* the module graph has no cycle.

Known violations are listed in :data:`EXCEPTIONS`, each with its reason. The
test fails when a new violation appears *and* when a listed one is gone (then
delete its line), so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crs_model"

# Bottom first. A module may import its own layer or a lower one. Patterns are fnmatch-style over
# dotted module names; a new module must match one (the first match wins).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "crs_model.errors",
            "crs_model.diagnostics",
            "crs_model.fileio",  # bounded reads of regular files, atomic writes
            "crs_model.hints",  # bounded did-you-mean
            "crs_model.exact",
            "crs_model.expr",
            "crs_model.types",
            "crs_model.source",
        ),
    ),
    # text: AST -> clinical words, a pure translator used from patient messages up to the reports
    # vocabulary: one presentation vocabulary (wording, classes, tones) for every backend that shows values
    # index: facts about a spec computed once (dependencies, order, paths, thresholds) for every backend
    (
        "model",
        (
            "crs_model.model",
            "crs_model.loader",
            "crs_model.graph",
            "crs_model.structure",  # the load-time structural checks (plain walks, no networkx)
            "crs_model.index",
            "crs_model.text",
            "crs_model.vocabulary",
        ),
    ),
    (
        "engine",
        (
            "crs_model.patient",
            "crs_model.pyeval",
            "crs_model.completion",
            "crs_model.borderline",  # runtime measurement-error check (no z3)
            "crs_model.engine",
            "crs_model.schema",
            "crs_model.course",
        ),
    ),
    ("api", ("crs_model",)),  # the public facade (load_spec, Engine, evaluate) that apps import
    (
        "backends",
        (
            "crs_model.verify",
            "crs_model.verify.*",
            "crs_model.testing",
            "crs_model.testing.*",
            "crs_model.render*",
            "crs_model.diagram",
            "crs_model.care_diagram",
            "crs_model.criteria",  # the criteria tree behind the guards (drawn and written in the pack)
            "crs_model.criteria_diagram",
            "crs_model.dot_labels",
            "crs_model.graphviz",
            "crs_model.report*",
            "crs_model.signoff*",
            "crs_model.signers",
            "crs_model.keys",
            "crs_model.verification_digest",
            "crs_model.diff",
            "crs_model.diff.*",
            "crs_model.fhir",  # FHIR R4 resources -> patient input, through the mapping file
            "crs_model.fhir.*",
            "crs_model.cdshooks",  # the CDS Hooks service (web stack: the service extra)
            "crs_model.cdshooks.*",
            "crs_model.sql",  # the SQL backend (sqlglot: the cohort extra)
            "crs_model.sql.*",
            "crs_model.cohort",  # cohort tables: readers, writers, runner, generator, impact report (the cohort extra)
            "crs_model.cohort.*",
        ),
    ),
    ("cli", ("crs_model.commands", "crs_model.commands.*", "crs_model.cli")),
)

# Which backend a backend module belongs to (backends are independent of each other by default).
BACKENDS: dict[str, tuple[str, ...]] = {
    "verify": ("crs_model.verify", "crs_model.verify.*"),
    "testing": ("crs_model.testing", "crs_model.testing.*"),
    "render": (
        "crs_model.render*",
        "crs_model.diagram",
        "crs_model.care_diagram",
        "crs_model.criteria",
        "crs_model.criteria_diagram",
        "crs_model.dot_labels",
        "crs_model.graphviz",
    ),
    "report": ("crs_model.report*",),
    "signoff": ("crs_model.signoff*", "crs_model.signers", "crs_model.keys", "crs_model.verification_digest"),
    "diff": ("crs_model.diff", "crs_model.diff.*"),
    "fhir": ("crs_model.fhir", "crs_model.fhir.*"),
    "cdshooks": ("crs_model.cdshooks", "crs_model.cdshooks.*"),
    "sql": ("crs_model.sql", "crs_model.sql.*"),
    "cohort": ("crs_model.cohort", "crs_model.cohort.*"),
}

# Declared backend -> backend dependencies, with the reason.
BACKEND_USES: dict[tuple[str, str], str] = {
    ("report", "render"): "the governance pack embeds the decision diagrams",
    ("report", "signoff"): "the governance pack shows the sign-off record",
    ("report", "verify"): "the governance pack shows proof status and findings",
    ("signoff", "verify"): "a sign-off records the digest and verdict of the verification report it was signed against",
    ("diff", "verify"): "the diff proves equivalence on the verifier's Z3 encoding and its SARIF conventions",
    ("report", "diff"): "the governance pack shows the changes since the last signed-off version",
    ("cdshooks", "fhir"): "the service maps the prefetch FHIR resources to the patient input",
    ("cohort", "testing"): "the synthetic cohort is decoded by the property-test generator (steered, consistent)",
    ("cohort", "sql"): "the cohort runs the spec's SQL query (DuckDB, Spark) and routes its open rows to the engine",
    ("testing", "verify"): "differential testing against the Z3 oracle; mutation scoring runs the verifier",
}

# Known violations: (kind, importer, imported) -> why it is there and who removes it.
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("upward", "crs_model", "crs_model.signoff"): (
        "load_spec(require_signoff=True) is public API (kept by issue 10); the import is function-local, "
        "so evaluation never loads sign-off"
    ),
    ("upward", "crs_model.engine", "crs_model.verify.counterfactual"): (
        "Decision.counterfactuals() is public API (issue 12) answered with Z3; the import is function-local "
        "(and typing-only for its return type), so evaluation never loads z3"
    ),
}


@dataclass(frozen=True, slots=True)
class Import:
    """One import of a crs_model module, where it is written."""

    importer: str
    imported: str
    names: tuple[str, ...]  # names taken from the module (``from m import a, b``)
    line: int
    local: bool  # inside a function (imported lazily)
    typing_only: bool = False  # under ``if TYPE_CHECKING:``: read by type checkers, never executed

    def where(self) -> str:
        return f"{self.importer}:{self.line} ({'function-local' if self.local else 'module-level'})"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(importer: str) -> Iterator[Import]:
    """Every crs_model import written in ``importer``, module-level or inside a function."""
    tree = ast.parse(MODULES[importer].read_text(encoding="utf-8"))

    def visit(node: ast.AST, local: bool, typing: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            guarded = typing or (isinstance(child, ast.If) and _is_type_checking(child.test))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "crs_model":
                        yield Import(importer, alias.name, (), child.lineno, local, typing)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(importer, child)
                if target is not None and target.split(".")[0] == "crs_model":
                    # ``from pkg import submodule`` imports that submodule
                    subs = [a.name for a in child.names if f"{target}.{a.name}" in MODULES]
                    names = tuple(a.name for a in child.names if f"{target}.{a.name}" not in MODULES)
                    for sub in subs:
                        yield Import(importer, f"{target}.{sub}", (), child.lineno, local, typing)
                    if names:
                        yield Import(importer, target, names, child.lineno, local, typing)
            elif (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute | ast.Name)
                and (child.func.attr if isinstance(child.func, ast.Attribute) else child.func.id) == "import_module"
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
                and child.args[0].value.startswith("crs_model")
            ):
                yield Import(importer, child.args[0].value, (), child.lineno, local, typing)
            yield from visit(child, inner, guarded)

    yield from visit(tree, False, False)


IMPORTS: tuple[Import, ...] = tuple(i for m in MODULES for i in imports_of(m))


def _first_match(module: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> int | None:
    for index, (_, patterns) in enumerate(table):
        if any(fnmatchcase(module, p) for p in patterns):
            return index
    return None


def layer_of(module: str) -> int:
    index = _first_match(module, LAYERS)
    assert index is not None, f"{module} has no layer: add it to LAYERS in {Path(__file__).name}"
    return index


def backend_of(module: str) -> str | None:
    return next((b for b, pats in BACKENDS.items() if any(fnmatchcase(module, p) for p in pats)), None)


def _inside(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


def _is_private(imp: Import) -> bool:
    """Whether ``imp`` reaches into a private module or ``_name`` it does not own (ruff SLF001's spirit).

    A private module (``testing._care``) belongs to its package; a private name belongs to its
    module's subpackage, or to the module itself for the flat top level (``engine._CEdge``).
    """
    parts = imp.imported.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__") and not _inside(imp.importer, ".".join(parts[:i])):
            return True
    if not any(n.startswith("_") and not n.startswith("__") for n in imp.names):
        return False
    is_package = imp.imported in MODULES and MODULES[imp.imported].name == "__init__.py"
    package = imp.imported if is_package else imp.imported.rpartition(".")[0]
    return not _inside(imp.importer, imp.imported if package == "crs_model" else package)


def broken_rules(imp: Import) -> set[str]:
    """The rules ``imp`` breaks: ``upward``, ``backend`` (undeclared), ``private``."""
    kinds = set()
    if layer_of(imp.imported) > layer_of(imp.importer):
        kinds.add("upward")
    src, dst = backend_of(imp.importer), backend_of(imp.imported)
    if src and dst and src != dst and (src, dst) not in BACKEND_USES:
        kinds.add("backend")
    if _is_private(imp):
        kinds.add("private")
    return kinds


def violations() -> dict[tuple[str, str, str], list[Import]]:
    """Every import that breaks the contract, keyed like :data:`EXCEPTIONS`."""
    found: dict[tuple[str, str, str], list[Import]] = {}
    for imp in IMPORTS:
        for kind in sorted(broken_rules(imp)):
            found.setdefault((kind, imp.importer, imp.imported), []).append(imp)
    return found


def module_graph() -> dict[str, set[str]]:
    """Module -> the crs_model modules it imports when it runs (type-checking-only imports never execute)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.imported in MODULES and imp.imported != imp.importer and not imp.typing_only:
            graph[imp.importer].add(imp.imported)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def connect(v: str) -> None:  # recursion depth is bounded by the package's module count
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_the_reader_sees_the_package() -> None:
    # guards the contract itself: an AST reader that saw nothing would pass every rule below
    assert {"crs_model", "crs_model.engine", "crs_model.testing.suite", "crs_model.verify.checks"} <= set(MODULES)
    engine_imports = {i.imported for i in IMPORTS if i.importer == "crs_model.engine"}
    assert {"crs_model.model", "crs_model.pyeval"} <= engine_imports
    # function-local imports are seen too (the facade loads the loader lazily)
    assert any(i.importer == "crs_model" and i.imported == "crs_model.loader" and i.local for i in IMPORTS)
    # and literal importlib.import_module names
    assert any(i.importer == "crs_model.report.inputs" and i.imported == "crs_model.verify" for i in IMPORTS)
    # and type-checking-only imports, which count for layers but not for cycles (they never run)
    typing_only = {(i.importer, i.imported) for i in IMPORTS if i.typing_only}
    assert ("crs_model.verify.checks.gap", "crs_model.verify.verifier") in typing_only


def test_every_module_has_a_layer() -> None:
    missing = [m for m in MODULES if _first_match(m, LAYERS) is None]
    assert not missing, f"modules without a layer (add them to LAYERS): {missing}"


def test_layers_only_point_down() -> None:
    found = violations()
    new = {k: v for k, v in found.items() if k not in EXCEPTIONS}
    stale = sorted(k for k in EXCEPTIONS if k not in found)
    lines = [f"new {kind} import: {imp.where()} imports {imp.imported}" for (kind, _, _), v in new.items() for imp in v]
    lines += [f"exception no longer needed (delete it from EXCEPTIONS): {k}" for k in stale]
    assert not lines, "\n".join(lines)


def test_no_import_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the detector works
    assert cycles(module_graph()) == []


@pytest.mark.parametrize(
    ("importer", "imported", "names", "expected"),
    [
        ("crs_model.engine", "crs_model.signoff", (), {"upward"}),
        ("crs_model.render", "crs_model.verify", (), {"backend"}),
        ("crs_model.commands.fuzz", "crs_model.testing._care", (), {"private"}),
        ("crs_model.verify.checks", "crs_model.verify.z3expr", ("_and",), set()),
        ("crs_model.report", "crs_model.engine", ("_Hidden",), {"private"}),
        ("crs_model.testing._mutate", "crs_model.verify", (), set()),
        ("crs_model.expr", "crs_model.model", (), {"upward"}),
        ("crs_model.verify.checks", "crs_model.testing._care", (), {"backend", "private"}),
        ("crs_model.cli", "crs_model.report", (), set()),
    ],
)
def test_the_rules_catch_what_they_should(
    importer: str, imported: str, names: tuple[str, ...], expected: set[str]
) -> None:
    assert broken_rules(Import(importer, imported, names, 1, local=True)) == expected
