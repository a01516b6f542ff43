"""A results table as a self-contained HTML page: what the Snakemake report shows when a table is clicked (a CSV
is only offered as a download there)."""

from __future__ import annotations

import html
import numbers
from pathlib import Path

import pandas as pd

STYLE = """body{font:13px/1.4 system-ui,sans-serif;margin:12px}table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}th{background:#f3f3f3;position:sticky;top:0}
td.text{text-align:left;white-space:normal;max-width:40em}.banner{background:#fff3cd;border:1px solid #e0c36b;padding:6px 10px;margin-bottom:10px}"""


def table_page(table: pd.DataFrame, title: str, banner: str = "", digits: int = 4) -> str:
    """The table's rows as an HTML page titled `title`, numbers to `digits` significant digits, text left-aligned,
    with the run's toy-size `banner` above it where there is one."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = []
    for _, row in table.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append(f"<td>{'' if pd.isna(value) else f'{value:.{digits}g}'}</td>")
            elif isinstance(value, (numbers.Integral, bool)) or value is None or value is pd.NA:
                cells.append(f"<td>{'' if value is None or value is pd.NA else value}</td>")
            else:
                cells.append(f'<td class="text">{html.escape(str(value))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = f'<p class="banner"><b>{html.escape(banner)}</b></p>' if banner else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h3>{html.escape(title)}</h3>{note}"
            f"<p>{len(table)} rows</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</body></html>\n")  # fmt: skip


def write_table_page(csv: str | Path, out: str | Path, banner: str = "") -> None:
    """`csv` (a table under results/<run>/tables/) as an HTML page at `out`."""
    from eqsae.io import atomic_write

    page = table_page(pd.read_csv(csv), Path(csv).name, banner)
    atomic_write(out, lambda tmp: Path(tmp).write_text(page))
