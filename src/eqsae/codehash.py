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
    package = Path(package) if package is not None else Path(__file__).parent
    exports = _exports(package / "__init__.py")
    seen: set[str] = set()
    todo = list(_imported(Path(script), exports))
    while todo:
        name = todo.pop()
        if name not in seen and (package / f"{name}.py").is_file():
            seen.add(name)
            todo.extend(_imported(package / f"{name}.py", exports))
    return sorted(seen)


def code_digest(script: str | Path, package: str | Path | None = None) -> str:
    """A short hash of the code of the eqsae modules a stage script runs, as a Snakemake param: editing that
    code re-runs the stage and what depends on it. Hashes the syntax tree, so comments, docstrings and layout
    do not count."""
    package = Path(package) if package is not None else Path(__file__).parent
    digest = hashlib.sha256()
    for name in library_modules(script, package):
        tree = _without_docstrings(ast.parse((package / f"{name}.py").read_text()))
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


def _imported(path: Path, exports: dict[str, str]) -> set[str]:
    """Names of the eqsae modules a file imports (`import eqsae.x`, `from eqsae.x import`, `from eqsae import x`);
    imports under `if TYPE_CHECKING:` are for type checkers only and do not count."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("eqsae.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("eqsae."):
                found.add(node.module.split(".")[1])
            elif node.module == "eqsae":
                found |= {exports.get(a.name, a.name) for a in node.names}
        todo.extend(ast.iter_child_nodes(node))
    return found


def files_digest(folder: str | Path) -> str:
    """A short hash of the files in `folder`, byte for byte: code that is not Python (the explorer's page), as
    a param of the rules that ship it."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()[:16]
