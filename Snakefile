# Equivariant sparse autoencoders: regenerate the paper's results from nothing.
# Stages in pipeline order; each rule wraps one stage script over the `eqsae` library.

import os

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config/config.yaml")  # also under --directory


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/base.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/transform.smk"
include: "workflow/rules/sae.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/atlas.smk"
include: "workflow/rules/explorer.smk"
include: "workflow/rules/v2.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/orbits.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
        report_tables(get_final_output()),
