"""A results table as an HTML page (what the report shows when a table is clicked)."""

import pandas as pd

from eqsae.pipeline.html_table import table_page, write_table_page


def test_the_page_holds_every_row_and_column_with_the_banner(tmp_path):
    table = pd.DataFrame(dict(claim=["a <b>", "c"], difference=[0.123456789, float("nan")], n=[3, 5]))
    page = table_page(table, "claims.csv", banner="toy-size config: these numbers test the pipeline, not the paper")
    assert page.count("<tr>") == 3 and "<th>difference</th>" in page and "0.1235" in page
    assert "a &lt;b&gt;" in page and '<p class="banner">' in page  # text escaped; the banner above the table
    assert '<p class="banner">' not in table_page(table, "claims.csv")
    table.to_csv(tmp_path / "claims.csv", index=False)
    write_table_page(tmp_path / "claims.csv", tmp_path / "out/claims.html")
    assert "<td>5</td>" in (tmp_path / "out/claims.html").read_text()
