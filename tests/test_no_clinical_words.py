"""The toolkit knows no clinical words: codes, outputs and their wording live in the spec only.

An ``ast`` scan of every module of ``crs_model/``: identifiers (names, attributes, function,
class and argument names, import aliases) and string constants that are not docstrings must
hold none of the clinical words below, nor a recommendation code of the shipped spec.
Comments and docstrings may mention them (they explain, they do not decide).
"""

from __future__ import annotations

import ast
from pathlib import Path

from crs_model import load_spec

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "crs_model"
WORDS = (
    "cytosorb",
    "tocilizumab",
    "toci",
    "astct",
    "vasopress",
    "steroid",
    "etiology",
    "sepsis",
    "covid",
    "car_t",
    "cartridge",
    "ecmo",
    "crrt",
)
# No module is exempt: the care-course machine (crs_model/testing/_care.py), exempt until the
# generic one landed, is generic now and held like the rest.
EXEMPT: set[str] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
        and isinstance(n.body[0].value.value, str)
    }


def _words_of(node: ast.AST, docs: set[int]) -> list[str]:
    """The identifiers and non-docstring string constants ``node`` itself carries."""
    match node:
        case ast.Name(id=name) | ast.Attribute(attr=name) | ast.arg(arg=name) | ast.keyword(arg=str() as name):
            return [name]
        case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name) | ast.ClassDef(name=name):
            return [name]
        case ast.alias(name=name, asname=asname):
            return [name, asname] if asname else [name]
        case ast.ImportFrom(module=str() as module):
            return [module]
        case ast.Constant(value=str() as text) if id(node) not in docs:
            return [text]
    return []


def clinical_hits(path: Path, banned: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file:line: 'text' holds 'word'`` for every banned word in the module's code, in line order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    rel = path.relative_to(root).as_posix()
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        for text in _words_of(node, docs):
            low = text.lower()
            for word in banned:
                if word in low:
                    hits.append(
                        (
                            getattr(node, "lineno", 0),
                            f"{rel}:{getattr(node, 'lineno', 0)}: {text[:80]!r} holds {word!r}",
                        )
                    )
    return [h for _, h in sorted(hits)]


def test_the_scan_finds_a_planted_word(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    src = (
        '"""Docs may say CytoSorb."""\n# so may comments: tocilizumab\n'
        'x = {"astct": 1}\ndef give_toci(ecmo):\n    """Or here: sepsis."""\n    return f"{x} Covid"\n'
    )
    planted.write_text(src, encoding="utf-8")
    assert clinical_hits(planted, WORDS, tmp_path) == [
        "planted.py:3: 'astct' holds 'astct'",
        "planted.py:4: 'ecmo' holds 'ecmo'",
        "planted.py:4: 'give_toci' holds 'toci'",
        "planted.py:6: ' Covid' holds 'covid'",
    ]


def test_no_module_of_the_toolkit_holds_a_clinical_literal() -> None:
    codes = tuple(load_spec().recommendations)
    assert "give_tocilizumab" in codes  # the shipped spec's own codes are banned too
    modules = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(ROOT).as_posix() not in EXEMPT)
    assert len(modules) > 50
    hits = [h for p in modules for h in clinical_hits(p, WORDS + codes)]
    print("\n".join(hits))
    assert hits == [], "clinical words in code (move them to the spec):\n" + "\n".join(hits)
