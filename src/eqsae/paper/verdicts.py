"""Re-decide every claim from a folder of per-seed tables and write the findings block: the paper's claims
(`eqsae.paper.claims`) or the toy model's (`eqsae.toy.claims`), whichever the folder holds.

`python -m eqsae.paper.verdicts published/paper --readme README.md`."""

from __future__ import annotations

from pathlib import Path

from eqsae.paper import findings
from eqsae.paper.claims import TOY_SCORES, ClaimSettings, decide_folder
from eqsae.toy.claims import toy_file, toy_folder_section


def folder_findings(folder, config_path="config/config.yaml") -> tuple[str, tuple[str, str]]:
    """The findings block for a folder of per-seed tables (the toy model's where it holds toy scores; several
    toy folders, a list, are taken together) under the `claims` margins of a config, and the markers it goes
    between (`eqsae.paper.findings.DOCUMENT` names the file that holds them)."""
    import yaml

    config = yaml.safe_load(Path(config_path).read_text()) if Path(config_path).exists() else {}
    settings = ClaimSettings.from_config(config.get("claims"))
    folders = [folder] if isinstance(folder, (str, Path)) else list(folder)
    if toy_file(folders[0], TOY_SCORES):
        return toy_folder_section(folders, settings), (findings.TOY_BEGIN, findings.TOY_END)
    if len(folders) > 1:
        raise ValueError(f"several folders are taken together for the toy model only, got {folders}")
    return findings.section(decide_folder(folders[0], settings)), (findings.BEGIN, findings.END)


def main(argv: list[str] | None = None) -> None:
    """`python -m eqsae.paper.claims FOLDER [FOLDER ...] [--readme FILE]`: re-decide every claim from a folder of
    per-seed tables (published/paper, published/toy, or a run's tables/; toy folders of other representatives
    may follow) and print the findings, or write them between a file's markers (README.md holds the paper's
    block, docs/toy.md the toy model's)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", nargs="+")
    parser.add_argument("--readme", "--doc", dest="readme",
                        help="write the findings between this file's findings markers (README.md: the paper's, "
                             "docs/toy.md: the toy model's)")
    parser.add_argument("--config", default="config/config.yaml", help="the config whose `claims` margins to use")
    args = parser.parse_args(argv)
    text, markers = folder_findings(args.folder, args.config)
    if args.readme:
        Path(args.readme).write_text(findings.splice(Path(args.readme).read_text(), text, *markers))
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
