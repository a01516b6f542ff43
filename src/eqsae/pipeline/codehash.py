"""Which library code a stage's result depends on: the eqsae modules its script imports, hashed.

Snakemake re-runs a job when its script changes, but not when the library code the script calls changes;
the workflow passes `code_digest(script)` as a param of every rule, so editing that code re-runs the stage
and everything downstream, and nothing else. Found from the source (no imports), so the Snakefile stays fast.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path


def library_modules(script: str | Path, package: str | Path | None = None) -> list[str]:
    """The eqsae modules a stage script runs: those it imports, directly or through other eqsae modules
    (imports inside functions included). `eqsae/__init__.py` only re-exports names and is left out."""
    package = Path(package) if package is not None else Path(__file__).parents[1]
    exports = _exports(package / "__init__.py")
    seen: set[str] = set()
    todo = list(_imported(Path(script), exports, package))
    while todo:
        name = todo.pop()
        if name not in seen and _source(package, name).is_file():
            seen.add(name)
            todo.extend(_imported(_source(package, name), exports, package))
    return sorted(seen)


def _source(package: Path, name: str) -> Path:
    """The file of an eqsae module named relative to the package (`models.sae` -> models/sae.py); a
    subpackage's own code is its __init__.py."""
    path = package.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def code_digest(script: str | Path, package: str | Path | None = None) -> str:
    """A short hash of the code of the eqsae modules a stage script runs, as a Snakemake param: editing that
    code re-runs the stage and what depends on it. Hashes the syntax tree, so comments, docstrings and layout
    do not count."""
    package = Path(package) if package is not None else Path(__file__).parents[1]
    digest = hashlib.sha256()
    for name in library_modules(script, package):
        tree = _without_docstrings(ast.parse(_source(package, name).read_text()))
        digest.update(f"{name}\n{ast.dump(tree)}\n".encode())
    return digest.hexdigest()[:16]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """The tree less its statement-level strings (docstrings, attribute docs): they compute nothing, so
    rewording them re-runs no stage."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                                and isinstance(s.value.value, str))]  # fmt: skip
                setattr(node, field, kept or [ast.Pass()])
    return tree


def _exports(init: Path) -> dict[str, str]:
    """eqsae's lazy export table (name -> module), read from its source without importing anything."""
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _imported(path: Path, exports: dict[str, str], package: Path) -> set[str]:
    """Names of the eqsae modules a file imports (`import eqsae.x.y`, `from eqsae.x.y import`, `from eqsae.x
    import y`, `from eqsae import name`), relative to the package (`x.y`); a subpackage counts with its
    __init__.py. Imports under `if TYPE_CHECKING:` are for type checkers only and do not count."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.removeprefix("eqsae.") for a in node.names if a.name.startswith("eqsae.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "eqsae":
                found |= {exports.get(a.name, a.name) for a in node.names}
            elif node.module.startswith("eqsae."):
                module = node.module.removeprefix("eqsae.")
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names if _source(package, f"{module}.{a.name}").is_file()}  # fmt: skip
        todo.extend(ast.iter_child_nodes(node))
    return {parent for name in found for parent in _parents(name)}


def _parents(name: str) -> list[str]:
    """`x.y.z` and the subpackages it sits in (`x`, `x.y`): importing a module runs their __init__.py too."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def files_digest(folder: str | Path) -> str:
    """A short hash of the files in `folder`, byte for byte: code that is not Python (the explorer's page), as
    a param of the rules that ship it."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()[:16]
