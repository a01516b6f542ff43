"""Every SAE type on one toy dataset (canonical representatives, orbit size, N, seed): train, score against
the planted features, one row per SAE (and per transformation for the equivariant SAEs)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

from threadpoolctl import threadpool_limits

from eqsae.io import write_table
from eqsae.toy.experiment import ToySAESettings, run_toy
from eqsae.toy.model import ToyConfig, make_toy

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
toy = ToyConfig(int(wc.n), int(wc.order), p.toy["d"], p.toy["n_train"], p.toy["n_test"], wc.canonical,
                p.toy["invariant_features"], p.seed)  # fmt: skip
settings = ToySAESettings(**{k: v for k, v in p.toy.items() if k in ToySAESettings.__dataclass_fields__})
with threadpool_limits(snakemake.threads):
    table = run_toy(make_toy(toy), toy, settings, tuple(p.toy["saes"]))
for i, (key, value) in enumerate(dict(canonical=wc.canonical, order=toy.order, n_features=toy.n_features,
                                      seed=toy.seed).items()):  # fmt: skip
    table.insert(i, key, value)
write_table(snakemake.output[0], table, allow_missing=("transformation", "class_agreement"))
