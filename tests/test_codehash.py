from pathlib import Path

from eqsae.pipeline.codehash import code_digest, files_digest, library_modules

ROOT = Path(__file__).resolve().parents[1]


def make_package(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "eqsae"
    package.mkdir()
    (package / "__init__.py").write_text('_EXPORTS = {"Thing": "things"}\n')
    (package / "a.py").write_text("def f():\n    from eqsae.b import g\n    return g()\n")
    (package / "b.py").write_text("import eqsae.c\n\n\ndef g():\n    return 1\n")
    (package / "c.py").write_text("X = 1\n")
    (package / "things.py").write_text("Thing = 2\n")
    (package / "typed.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from eqsae.c import X\n")
    (package / "unused.py").write_text("Y = 3\n")
    script = tmp_path / "stage.py"
    script.write_text("from eqsae.a import f\nfrom eqsae import Thing, __version__\nimport eqsae.typed\n")
    return script, package


def test_modules_are_followed_through_imports_inside_functions_and_exports(tmp_path):
    script, package = make_package(tmp_path)
    assert library_modules(script, package) == ["a", "b", "c", "things", "typed"]


def test_imports_for_type_checkers_only_do_not_count(tmp_path):
    script, package = make_package(tmp_path)
    script.write_text("import eqsae.typed\n")
    assert library_modules(script, package) == ["typed"]


def test_the_digest_follows_code_not_comments_or_docstrings(tmp_path):
    script, package = make_package(tmp_path)
    before = code_digest(script, package)
    (package / "c.py").write_text("# a comment\nX = 1  # the same code\n")
    assert code_digest(script, package) == before
    (package / "unused.py").write_text("Y = 4\n")  # no stage imports it
    assert code_digest(script, package) == before
    (package / "c.py").write_text('"""Why X."""\n\nX = 1\n"""X\'s meaning."""\n\n\ndef f():\n    """Doc."""\n')
    with_f = code_digest(script, package)
    (package / "c.py").write_text('"""Reworded."""\n\nX = 1\n\n\ndef f():\n    """Other words."""\n')
    assert code_digest(script, package) == with_f != before  # docstrings compute nothing; a new function counts
    (package / "c.py").write_text("X = 2\n")
    assert code_digest(script, package) != before
    (package / "c.py").write_text('X = "1"\n')  # a string that is a value, not a docstring
    assert code_digest(script, package) != before


def test_every_stage_script_runs_the_library_it_names():
    modules = library_modules(ROOT / "workflow/scripts/train_sae.py", ROOT / "src/eqsae")
    assert {"training.train", "training.optim", "models.sae", "io", "pipeline.runtime"} <= set(modules)
    assert {"training", "models", "pipeline"} <= set(modules)  # each subpackage's __init__.py runs too
    assert "paper.plots" not in modules
    assert "training.optim" not in library_modules(ROOT / "workflow/scripts/figure4.py", ROOT / "src/eqsae")


def test_modules_in_subpackages_are_followed_in_every_import_form(tmp_path):
    script, package = make_package(tmp_path)
    (package / "sub").mkdir()
    (package / "sub/__init__.py").write_text('"""A subpackage."""\n')
    (package / "sub/m.py").write_text("from eqsae.sub import n\n")
    (package / "sub/n.py").write_text("import eqsae.c\n")
    script.write_text("from eqsae.sub.m import thing\n")
    assert library_modules(script, package) == ["c", "sub", "sub.m", "sub.n"]
    before = code_digest(script, package)
    (package / "sub/n.py").write_text("import eqsae.c\nZ = 1\n")
    assert code_digest(script, package) != before


def test_the_files_digest_follows_every_byte_of_the_folders_files(tmp_path):
    (tmp_path / "page.js").write_text("let a = 1;\n")
    (tmp_path / "sub").mkdir()
    before = files_digest(tmp_path)
    (tmp_path / "sub/ignored.txt").write_text("a subfolder is not part of it")
    assert files_digest(tmp_path) == before
    (tmp_path / "page.js").write_text("let a = 1; // a comment counts here\n")
    assert files_digest(tmp_path) != before
