# The report's tables as HTML pages: the report shows a CSV only as a download.


rule table_html:
    input:
        f"{R}/tables/{{table}}.csv",
    output:
        report(
            f"{R}/report/tables/{{table}}.html",
            caption="../report/table_html.rst",
            category="Tables",
            subcategory="{table}",
        ),
        # fmt: skip
    log:
        log_path("table_html", "{table}"),
    wildcard_constraints:
        table=r"[A-Za-z0-9_/.-]+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        toy_size=TOY_SIZE_BANNER,
        code=get_code("table_html.py"),
    script:
        "../scripts/table_html.py"
