"""The workflow config, checked at start-up: schema, renamed keys, and every value that could fail hours later.

A value the schema accepts can still break a job deep in the DAG (a K above the dictionary size, a test split
that leaves no training images); each such case is checked here, before any job, with the key named.
Kept apart from `eqsae.pipeline.config` (the stages' settings) so that editing these checks re-runs no stage.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eqsae.group import get_group
from eqsae.pipeline.config import TRAINED_BY, VARIANTS, uses_anchors

RENAMED = {"m": "m_fit"}
"""Old key -> new key. Snakemake's --config rejects one-letter keys, so `m` could not be set from the command line."""


class ConfigError(ValueError):
    """A workflow config that cannot run; the message names the offending key."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def validate_config(
    config: dict[str, Any], schema_path: str | Path, warn: Callable[[str], None] = _stderr
) -> dict[str, Any]:
    """Check `config` against the JSON schema (YAML file) and across keys, fill defaults in place, return it.

    Raises ConfigError naming the key path (e.g. `base.epochs`) of the first problem found."""
    import jsonschema
    import yaml

    _migrate(config, warn)
    schema = yaml.safe_load(Path(schema_path).read_text())
    _coerce_numbers(config, schema)
    _check_finite(config)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            keys = ", ".join(f"{where}.{key}" if where else key for key in unknown)
            raise ConfigError(f"unknown config key {keys}; allowed here: {sorted(error.schema['properties'])}")
        raise ConfigError(f"config key {where or '<root>'}: {error.message}")
    _fill_defaults(config, schema)
    check_across_keys(config)
    return config


def _migrate(config: dict[str, Any], warn: Callable[[str], None]) -> None:
    """Renamed keys keep working, with a message saying what to write instead."""
    if "seed" in config:
        seed = config.pop("seed")  # set by the user (config.yaml has seeds), so it wins over the default seeds
        config["seeds"] = seed if isinstance(seed, list) else [seed]
        warn(f"config key seed is deprecated: seeds are a grid axis now; applied as seeds: {config['seeds']}")
    for old, new in RENAMED.items():
        if old in config:
            value = config.pop(old)
            if not isinstance(value, dict):
                raise ConfigError(f"config key {old} is renamed {new}; give it as {new}: {{...}}")
            config[new] = {**config.get(new, {}), **value}
            warn(f"config key {old} is deprecated (Snakemake's --config rejects one-letter keys): write {new} "
                 f"instead; its values were applied as {new}")  # fmt: skip
    _migrate_source_keys(config, warn)


def _migrate_source_keys(config: dict[str, Any], warn: Callable[[str], None]) -> None:
    """The toy's orbit sizes and K and an orbit table's group were keys of their own sections; `groups` and `topk`
    name them for every source now. An old key applies where its source runs and is dropped elsewhere (an older
    base config set all three for every run, where they meant nothing)."""
    reproduce = config.get("reproduce", "v1")
    toy, orbits = config.get("toy"), config.get("orbits")
    moved = []  # (old key, its source, new key, value)
    if isinstance(toy, dict) and "orders" in toy:
        orders = toy.pop("orders")
        if not isinstance(orders, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in orders):
            raise ConfigError(f"config key toy.orders: {orders!r} is not a list of orbit sizes (write groups: [C4])")
        moved.append(("toy.orders", "toy", "groups", [f"C{n}" for n in orders]))
    if isinstance(toy, dict) and "k" in toy:
        moved.append(("toy.k", "toy", "topk", [toy.pop("k")]))
    if isinstance(orbits, dict) and "group" in orbits:
        moved.append(("orbits.group", "orbits", "groups", [orbits.pop("group")]))
    for old, source, new, value in moved:
        if reproduce != source:
            warn(f"config key {old} is deprecated ({new} names it for every source) and ignored: reproduce is "
                 f"{reproduce}")  # fmt: skip
            continue
        config[new] = value
        warn(f"config key {old} is deprecated: {new} names it for every source; applied as {new}: "
             f"[{', '.join(map(str, value))}]")  # fmt: skip


def check_config_files(
    configfiles: list[str | Path], cli_config: Mapping[str, Any], configfile_flags: int = 1,
    cli_keys: Sequence[str] = (),
) -> None:
    """Refuse what Snakemake would do silently: a second --configfile flag drops the first flag's files; a file
    with a key twice keeps the last value; a config file that does not name its run would write into the paper's
    results (`run` defaults to paper); `seed` beside `seeds` would win silently. Each file is read here with
    its name and line in every message.

    `configfile_flags` and `cli_keys` (the keys given after --config) come from the command line, which the
    workflow reads: Snakemake's `cli_config` also holds the files' keys, so it cannot tell where a key came from."""
    import os

    if configfile_flags > 1:
        raise ConfigError(f"--configfile given {configfile_flags} times: Snakemake keeps only the last flag's "
                          "files. Give every file after one flag, in order: --configfile config/smoke.yaml extra.yaml")
    layers = [read_config_file(f) for f in configfiles]
    if configfiles and "run" not in cli_config and not any("run" in layer for layer in layers):
        files = ", ".join(os.path.relpath(f) for f in configfiles)
        raise ConfigError(f"config key run: none of {files} sets it. Every config writes under results/<run>/; "
                          "give your config its own `run: <name>` so it cannot write into another's results")
    # Layers apply in order, but the old `seed` is applied after them all: a `seeds` in its own or a later layer
    # would silently lose to it (a later `seed` overriding an earlier `seeds` is what layering says).
    order = [*layers, set(cli_keys)]
    seed = [i for i, layer in enumerate(order) if "seed" in layer]
    if seed and any("seeds" in layer for layer in order[seed[0]:]):
        raise ConfigError("config keys seed and seeds are both given, seeds in the same or a later place (seed would "
                          "silently win): give seeds only, e.g. seeds: [0, 1, 2]")  # fmt: skip


def read_config_file(path: str | Path) -> dict[str, Any]:
    """One config file, read strictly: a YAML error, a key given twice, or a file that is not a mapping of keys is
    a ConfigError naming the file (and line)."""
    import yaml

    class Strict(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise ConfigError(f"{path}, line {key_node.start_mark.line + 1}: config key {key} is given twice "
                                      f"(first on line {seen[key]}); YAML would keep the last silently")  # fmt: skip
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep)

    try:
        text = Path(path).read_text()
        data = yaml.load(text, Loader=Strict)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping of config keys"
        raise ConfigError(f"{path}: the config file is {kind}; write keys such as `run: mine`")
    return data


IDENTITY = "run_identity.json"
"""What made a run folder, written on its first run (results/<run>/run_identity.json)."""


def run_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a run folder holds the results of: the paper version (or source) it reproduces. Two configs with the
    same identity differ in settings only, and re-running one after the other is the normal workflow."""
    identity: dict[str, Any] = {"reproduce": config["reproduce"]}
    if config["reproduce"] == "orbits":
        identity["orbits_source"] = config["orbits"]["source"]
    return identity


def check_run_identity(folder: str | Path, config: Mapping[str, Any], write: bool) -> None:
    """Refuse a run into a folder that another kind of config made (a v2 config named like a v1 run would replace
    its tables beside the v1 claims), unless `reuse_run` says so; record the identity on a folder's first run."""
    import json

    path = Path(folder) / IDENTITY
    ours = run_identity(config)
    if path.exists() and not config.get("reuse_run"):
        recorded = json.loads(path.read_text())
        if recorded != ours:
            raise ConfigError(f"config key run: {folder}/ holds a run of {recorded}, this config is {ours}. Give this "
                              f"config its own `run: <name>`, or `--config reuse_run=true` to write into it anyway")
    if write and (config.get("reuse_run") or not path.exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ours, indent=1) + "\n")


SAE_MEMORY_FLOOR_MB = 2000
"""An orbits SAE job's memory request where its estimate is smaller (the data, torch and the probes' share)."""


def sae_memory_mb(d: int, latents: int) -> int:
    """Memory an SAE training of `latents` x d needs, estimated: encoder and decoder (2 L d float32 numbers), each
    with its gradient and Adam's two moments (x 4), and the floor for everything else. A job's `mem_mb`."""
    return SAE_MEMORY_FLOOR_MB + math.ceil(4 * 2 * latents * d * 4 / 2**20)


def machine_memory_mb() -> int:
    """Physical memory of this machine."""
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def orbit_sae_memory_mb(config: Mapping[str, Any], variant: str) -> int:
    """The memory an orbits SAE job of this variant requests: the estimate where start-up knows d, else the floor."""
    width = _orbit_width(config)
    if width is None:
        return SAE_MEMORY_FLOOR_MB
    return sae_memory_mb(width, dictionary_size(variant) // dictionary_size("regular") * config["orbits"]["expansion"]
                         * width)  # fmt: skip


def check_sae_memory(config: Mapping[str, Any], available_mb: int | None = None) -> None:
    """A user's activation width and orbits.expansion give the dictionary; its training must fit the memory of the
    machine that runs the jobs (here, for a local run), else every SAE job would die on allocation."""
    width = _orbit_width(config) if config["reproduce"] == "orbits" else None
    if width is None:
        return
    largest = max(config["variants"], key=dictionary_size)
    latents = dictionary_size(largest) // dictionary_size("regular") * config["orbits"]["expansion"] * width
    needed, available = orbit_sae_memory_mb(config, largest), available_mb or machine_memory_mb()
    if needed > available:
        raise ConfigError(f"config key orbits.expansion: {config['orbits']['expansion']} x d = {width} gives the "
                          f"{largest} SAE {latents} latents, whose training needs about {needed:,} MB; this machine "
                          f"has {available:,} MB. Lower orbits.expansion, drop wide variants, or run the jobs where "
                          "they fit (a cluster job requests this estimate as mem_mb)")  # fmt: skip


def dictionary_size(variant: str) -> int:
    """Latents of a variant's dictionary (an equivariant SAE uses its invariant SAE's)."""
    arch, _ = VARIANTS[TRAINED_BY.get(variant, variant)]
    return arch["d_latent"]


def check_across_keys(config: Mapping[str, Any]) -> None:
    """Values that are each valid but cannot run together; each error names the keys involved."""
    from eqsae.probing.probe import split_sizes

    _check_groups(config)
    order = min(get_group(name).order for name in config["groups"])  # rows per element of the smallest group

    smallest = min(config["variants"], key=dictionary_size)
    size, why = dictionary_size(smallest), "config key variants"
    width = _orbit_width(config) if config["reproduce"] == "orbits" else None
    if width is not None:  # a user's or the digits' psi: expansion x d latents (a wide dictionary 4x)
        size = dictionary_size(smallest) // dictionary_size("regular") * config["orbits"]["expansion"] * width
        why = f"orbits.expansion = {config['orbits']['expansion']} x d = {width}"
    for key, name in (("topk", "K"), ("truncations", "T")):
        for value in config[key]:
            if value > size:
                raise ConfigError(f"config key {key}: {name} = {value} exceeds the {size} latents of the {smallest} "
                                  f"SAE ({why})")  # fmt: skip
    n_probe, probe, probed = config["data"]["n_probe"], config["probe"], "data.n_probe"
    if config["reproduce"] == "orbits" and (held_out := _check_orbits(config)) is not None:
        n_probe, probed, order = held_out, f"the held-out orbits (orbits.held_out = {config['orbits']['held_out']})", \
            get_group(config["groups"][0]).order  # fmt: skip
    try:
        n_train, _ = split_sizes(n_probe, probe["test_fraction"])
    except ValueError as e:
        raise ConfigError(f"config key probe.test_fraction: {e} ({probed} = {n_probe})") from e
    if "knn" in probe["probes"] and probe["knn_neighbors"] > n_train * order:
        raise ConfigError(f"config key probe.knn_neighbors: {probe['knn_neighbors']} neighbours but the probes' "
                          f"training split has only {n_train * order} rows ({probed} = {n_probe}, "
                          f"probe.test_fraction = {probe['test_fraction']})")  # fmt: skip
    archetypal = [v for v in config["variants"] if uses_anchors(v)]
    rows = config["data"]["n_sae"] * order
    if archetypal and config["sae"]["anchors"] > rows:
        raise ConfigError(f"config key sae.anchors: {config['sae']['anchors']} KMeans anchors for {archetypal[0]} but "
                          f"the SAE set has only {rows} rows (data.n_sae = {config['data']['n_sae']})")  # fmt: skip
    _check_targets(config)
    if config["reproduce"] == "toy":
        _check_toy(config)
    atlas = config["atlas"]
    if atlas["moved"] >= atlas["tau"]:
        raise ConfigError(f"config key atlas.moved: {atlas['moved']} must be below atlas.tau = {atlas['tau']} (a "
                          "feature cannot both stay and move under a turn)")  # fmt: skip


def _check_targets(config: Mapping[str, Any]) -> None:
    """`reproduce` needs what its tables read: v1's claims and atlas are C4's; v2's Tables 4 and 5 are XGBoost
    probes on reconstructions."""
    if config["reproduce"] == "v1" and config["groups"] != ["C4"]:
        raise ConfigError(f"config key groups: reproduce v1 draws its figures, claims and atlas under C4 alone, "
                          f"not {config['groups']}; set groups: [C4], or reproduce: v2 for D4")  # fmt: skip
    if config["reproduce"] == "v2":
        for key, needed in (("probes", "xgboost"), ("representations", "reconstructions")):
            if needed not in config["probe"][key]:
                raise ConfigError(f"config key probe.{key}: reproduce v2 compares {needed} with v2's Tables 4 and "
                                  f"5; add it to {config['probe'][key]}")  # fmt: skip


def _check_groups(config: Mapping[str, Any]) -> None:
    """Each group is one `eqsae.group` knows and one the run's source can act with: images take C4 and D4, the
    toy model cyclic groups, an orbit table the one group its `element` column counts."""
    for i, name in enumerate(config["groups"]):
        try:
            get_group(name)
        except ValueError as e:
            raise ConfigError(f"config key groups.{i}: {e}") from e
    reproduce, groups = config["reproduce"], config["groups"]
    images = reproduce in ("v1", "v2") or (reproduce == "orbits" and config["orbits"]["source"] in ("digits", "shapes"))
    if images and (bad := [g for g in groups if not get_group(g).acts_on_images]):
        raise ConfigError(f"config key groups: {bad[0]} does not act on images; the {reproduce} run turns images, "
                          "so give C4 or D4")  # fmt: skip
    if reproduce == "toy" and (bad := [g for g in groups if get_group(g).n_generators != 1]):
        raise ConfigError(f"config key groups: the toy model's M is one cyclic generator; {bad[0]} is not cyclic "
                          "(give C<n>, e.g. C4)")  # fmt: skip
    if reproduce == "orbits" and len(groups) != 1:
        raise ConfigError(f"config key groups: an orbit table counts the elements of one group; give one, not "
                          f"{groups}")  # fmt: skip


def _check_toy(config: Mapping[str, Any]) -> None:
    """Every toy dataset of the grid can be made, and every SAE type can pick K latents and its anchors."""
    from eqsae.toy.model import ToyConfig

    toy, orders = config["toy"], [get_group(name).order for name in config["groups"]]
    for name, order in zip(config["groups"], orders):
        if not (toy["d"] % order == 0 or order == 2 * toy["d"]):
            raise ConfigError(f"config key groups: {name}'s orbit size {order} must divide toy.d = {toy['d']} or be "
                              f"2 toy.d (M is a permutation in cycles of that length)")  # fmt: skip
        for n in toy["n_features"]:
            try:
                ToyConfig(n, order, toy["d"], toy["n_train"], toy["n_test"], invariant_features=toy["invariant_features"])
            except ValueError as e:
                raise ConfigError(f"config key toy.invariant_features: {e} (groups {name}, toy.n_features {n})") from e
    if len(config["topk"]) != 1:
        raise ConfigError(f"config key topk: the toy model trains one K per run (v2: topk: [3]), not {config['topk']}")
    if config["topk"][0] > min(toy["n_features"]):
        raise ConfigError(f"config key topk: TopK {config['topk'][0]} exceeds the {min(toy['n_features'])} latents "
                          "of a narrow toy SAE (toy.n_features)")  # fmt: skip
    if any("archetypal" in s for s in toy["saes"]) and toy["anchors"] > toy["n_train"] * min(orders):
        raise ConfigError(f"config key toy.anchors: {toy['anchors']} KMeans anchors but the training set has "
                          f"{toy['n_train'] * min(orders)} rows (toy.n_train x |G|)")  # fmt: skip


MIN_ORBITS = 10
"""Orbits on each side of a user's split: fewer trains an SAE and M on almost nothing, or probes almost nothing."""


def _check_orbits(config: Mapping[str, Any]) -> int | None:
    """Your orbit table exists and has the columns, labels and group order the config names, and the split leaves
    enough orbits each side; the digits' labels and size likewise. Returns the held-out orbits where start-up
    can know them (None for a user's model, whose orbits are only made in its job)."""
    from eqsae.io import UnreadableFileError
    from eqsae.sources.orbit_table import REQUIRED, SPLIT, check_elements

    orbits = config["orbits"]
    if orbits["tasks"] == "paper" and orbits["source"] != "shapes":
        raise ConfigError(f"config key orbits.tasks: 'paper' reads the Shapes' quadrant labels; source "
                          f"{orbits['source']!r} has none (use tasks: labels)")  # fmt: skip
    if orbits["source"] == "digits":
        return _check_digits(orbits)
    if orbits["source"] == "shapes":
        return _check_shapes(config)
    if orbits["source"] == "toy":
        return _check_toy_source(config)
    if orbits["source"] != "file":
        return None
    path = Path(orbits["activations"])
    if not orbits["activations"] or not path.is_file():
        raise ConfigError(f"config key orbits.activations: {orbits['activations']!r} is not a file; give the path of "
                          "your orbit table (docs/your-model.md)")  # fmt: skip
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as e:  # noqa: BLE001 (any reader failure is a bad file, named)
        raise ConfigError(f"config key orbits.activations: {path} is not a Parquet file ({e})") from e
    missing = [c for c in (*REQUIRED, *orbits["labels"]) if c not in names]
    if missing:
        raise ConfigError(f"config key orbits.activations: {path} lacks column(s) {missing} (orbits.labels and "
                          f"{list(REQUIRED)} must be there)")  # fmt: skip
    columns = pq.read_table(path, columns=["orbit_id", "element"])
    elements = columns["element"].to_numpy()
    group = config["groups"][0]
    order = get_group(group).order
    if len(elements) and int(elements.max()) + 1 != order:
        raise ConfigError(f"config key groups: {group} has {order} elements but {path} counts "
                          f"{int(elements.max()) + 1}")  # fmt: skip
    try:
        check_elements(path, columns["orbit_id"].to_numpy(), elements, order)
    except UnreadableFileError as e:
        raise ConfigError(f"config key orbits.activations: {e}") from e
    if orbits["images"]:
        import numpy as np

        from eqsae.sources.orbit_table import read_orbit_images

        try:
            read_orbit_images(orbits["images"], np.unique(columns["orbit_id"].to_numpy()))
        except (UnreadableFileError, FileNotFoundError) as e:
            raise ConfigError(f"config key orbits.images: {e}") from e
    own = None
    if SPLIT in names:
        split = pq.read_table(path, columns=[SPLIT])[SPLIT].to_numpy(zero_copy_only=False)
        own = int((split == "held_out").sum()) // order
    return _check_split(len(elements) // order, orbits["held_out"], f" in {path}", own)


def _check_split(n: int, held_out: float | str, where: str = "", own: int | None = None) -> int:
    """The held-out orbits of n: a seeded share, or the source's own split (`own` held out; None: it has none);
    at least MIN_ORBITS each side."""
    from eqsae.sources.orbit_table import SPLIT, split_orbits

    if held_out == "table" and own is None:
        raise ConfigError(f"config key orbits.held_out: 'table' reads the source's own split, but the orbits{where} "
                          f"have none (a {SPLIT!r} column); give a share such as 0.2")  # fmt: skip
    if held_out != "table" and own is not None:
        raise ConfigError(f"config key orbits.held_out: {held_out} splits the orbits{where} anew, but they come with "
                          f"their own split; set orbits.held_out: table")  # fmt: skip
    n_out = own if own is not None else int(split_orbits(n, held_out, 0).sum()) if n > 1 else n
    if min(n - n_out, n_out) < MIN_ORBITS:
        raise ConfigError(f"config key orbits.held_out: {held_out} of {n} orbits{where} leaves {n - n_out} "
                          f"to train the SAEs and M on and {n_out} to probe; each side needs at least {MIN_ORBITS} "
                          "orbits (change orbits.held_out or give more orbits)")  # fmt: skip
    return n_out


def _check_digits(orbits: Mapping[str, Any]) -> int:
    """The digits' labels are the two the digits table has; at most the 1,797 bundled images."""
    from eqsae.sources.digits import DIGIT_LABELS, N_DIGITS

    unknown = [label for label in orbits["labels"] if label not in DIGIT_LABELS]
    if unknown:
        raise ConfigError(f"config key orbits.labels: {unknown} are not labels of the digits; they have "
                          f"{list(DIGIT_LABELS)}")  # fmt: skip
    n = orbits["digits"]["n"] or N_DIGITS
    if n > N_DIGITS:
        raise ConfigError(f"config key orbits.digits.n: {n} images, but scikit-learn's digits are {N_DIGITS} "
                          "(0 takes them all)")  # fmt: skip
    return _check_split(n, orbits["held_out"], " of the digits")


def _check_shapes(config: Mapping[str, Any]) -> int:
    """The Shapes source analyses one base model; its labels are the Shapes table's; its orbits are the SAE and
    probing image sets together."""
    from eqsae.sources.shapes import SHAPE_LABELS

    if len(config["models"]) != 1:
        raise ConfigError(f"config key models: the shapes source reads one base model's activations as an orbit "
                          f"table; give one, not {config['models']}")  # fmt: skip
    unknown = [label for label in config["orbits"]["labels"] if label not in SHAPE_LABELS]
    if unknown:
        raise ConfigError(f"config key orbits.labels: {unknown} are not labels of the Shapes; they have "
                          f"{list(SHAPE_LABELS)}")  # fmt: skip
    if config["orbits"]["tasks"] == "paper" and config["orbits"]["labels"]:
        raise ConfigError(f"config key orbits.labels: {config['orbits']['labels']} with tasks: paper, whose tasks read "
                          "every quadrant's shape and orientation; leave orbits.labels empty")  # fmt: skip
    n = config["data"]["n_sae"] + config["data"]["n_probe"]
    return _check_split(n, config["orbits"]["held_out"], " of the Shapes", own=config["data"]["n_probe"])


def _check_toy_source(config: Mapping[str, Any]) -> int:
    """The toy source makes one dataset per seed: one N, one canonical representative, a cyclic group whose
    order suits d; its labels are its features'."""
    from eqsae.group import get_group
    from eqsae.sources.toy import feature_label, toy_source_settings
    from eqsae.toy.model import ToyConfig

    toy = config["toy"]
    for key in ("n_features", "canonical"):
        if len(toy[key]) != 1:
            raise ConfigError(f"config key toy.{key}: the toy source makes one dataset per seed; give one value, not "
                              f"{toy[key]}")  # fmt: skip
    group = config["groups"][0]
    if get_group(group).n_generators != 1:
        raise ConfigError(f"config key groups: the toy's M generates a cyclic group; {group} has two generators")
    try:
        cfg = ToyConfig(**toy_source_settings(toy), order=get_group(group).order)
    except ValueError as e:
        raise ConfigError(f"config key toy: {e} (group {group})") from e
    known = [feature_label(i) for i in range(cfg.n_features)]
    unknown = [label for label in config["orbits"]["labels"] if label not in known]
    if unknown:
        raise ConfigError(f"config key orbits.labels: {unknown} are not labels of the toy source; it has "
                          f"feature_0 .. feature_{cfg.n_features - 1}")  # fmt: skip
    return _check_split(cfg.n_train + cfg.n_test, config["orbits"]["held_out"], " of the toy (toy.n_train + n_test)")


def _orbit_width(config: Mapping[str, Any]) -> int | None:
    """d, the width of psi on the orbits branch, where start-up can know it: the digits network's d_act, or the
    activation column of a user's table; None for a user's model (its layer is only run in the job)."""
    orbits = config["orbits"]
    if orbits["source"] == "digits":
        return int(orbits["digits"]["d_act"])
    if orbits["source"] == "shapes":
        from eqsae.models.autoencoders import D_ACT

        return D_ACT
    if orbits["source"] == "toy":
        return int(config["toy"]["d"])
    path = Path(orbits["activations"] or "")
    if orbits["source"] != "file" or not path.is_file():
        return None  # _check_orbits names the missing file
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        kind = pq.read_schema(path).field("activation").type
    except Exception:  # noqa: BLE001 (_check_orbits names a bad file)
        return None
    return kind.list_size if isinstance(kind, pa.FixedSizeListType) else None


def _check_finite(value: Any, where: str = "") -> None:
    """NaN and infinity are numbers to a JSON schema (YAML's .nan, .inf), but no setting means them: a job
    would stop on them only after every stage before it ran."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key {where}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _check_finite(item, f"{where}.{key}" if where else str(key))


def _coerce_numbers(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Snakemake reads lists given with --config (`topk=[8,16]`) as strings; make the numbers numbers again."""

    def coerce(value: Any, sub: Mapping[str, Any]) -> Any:
        kind = sub.get("type")
        if isinstance(value, str) and kind in ("integer", "number"):
            try:
                return int(value) if kind == "integer" else float(value)
            except ValueError:
                return value  # the schema check names the key
        if isinstance(value, list) and "items" in sub:
            return [coerce(item, sub["items"]) for item in value]
        if isinstance(value, dict):
            props = sub.get("properties", {})
            return {key: coerce(item, props.get(key, {})) for key, item in value.items()}
        return value

    config.update(coerce(dict(config), schema))


def _fill_defaults(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = sub["default"]
        if isinstance(config.get(key), dict):
            _fill_defaults(config[key], sub)


def check_files(paths: list[str], base: str | Path = "config/config.yaml",
                schema: str | Path = "workflow/schemas/config.schema.yaml") -> None:
    """Each config file read strictly and validated over `base`, as `--configfile <file>` would be: the check to
    run where Snakemake, which reads a --configfile itself before this workflow's checks, reports a YAML error
    without naming the file."""
    import copy

    defaults = read_config_file(base)
    for path in paths:
        config = copy.deepcopy(defaults)
        _merge(config, read_config_file(path))
        try:
            validate_config(config, schema, warn=lambda message: None)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Snakemake's merge of a config file over another: mappings key by key, anything else replaced."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


TOY_SIZE = "toy-size config: these numbers test the pipeline, not the paper"
"""The banner of a run whose sizes are below the paper's (findings, the report, the start-up line)."""

SIZES = {"v1": ("data.n_base", "data.n_sae", "data.n_probe", "base.epochs", "m_fit.epochs", "sae.epochs",
                "probe.xgb_trees"),
         "toy": ("toy.n_train", "toy.n_test", "toy.epochs", "toy.m_epochs"),
         "digits": ("orbits.digits.epochs", "m_fit.epochs", "sae.epochs", "probe.xgb_trees"),
         "file": ("m_fit.epochs", "sae.epochs", "probe.xgb_trees")}  # fmt: skip
"""The settings that make a run the paper's size, per kind of run; v2 has v1's."""
PAPER_CONFIGS = {"v2": "v2.yaml", "toy": "toy.yaml", "digits": "digits.yaml", "shapes": "shapes_orbits.yaml"}
"""The config file holding a kind's paper sizes, over config/config.yaml."""


def toy_size(config: Mapping[str, Any], config_dir: str | Path = "config") -> list[str]:
    """Which sizes of `config` lie below the paper's ("sae.epochs 2 < 500"), none for a paper-size run: the
    reasons behind the toy-size banner. A user's own orbit table is held to v1's epochs and trees."""
    kind = config["reproduce"] if config["reproduce"] != "orbits" else config["orbits"]["source"]
    paper = read_config_file(Path(config_dir) / "config.yaml")
    if kind in PAPER_CONFIGS:
        _merge(paper, read_config_file(Path(config_dir) / PAPER_CONFIGS[kind]))
    reasons = []
    for key in SIZES.get(kind, SIZES["v1"]):
        ours, theirs = _get(config, key), _get(paper, key)
        if ours is not None and theirs is not None and ours < theirs:
            reasons.append(f"{key} {ours} < {theirs}")
    if kind == "digits" and 0 < config["orbits"]["digits"]["n"]:  # 0: every digit
        reasons.append(f"orbits.digits.n {config['orbits']['digits']['n']} < all 1,797")
    return reasons


def _get(config: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(config, Mapping) or part not in config:
            return None
        config = config[part]
    return config


REFERENCE_BEGIN, REFERENCE_END = "<!-- keys:begin -->", "<!-- keys:end -->"
"""config/README.md's generated part lies between these lines."""


def config_reference(schema_path: str | Path) -> str:
    """Every config key as a Markdown table (key, default, what it does), read from the schema: the reference in
    config/README.md, generated so that it cannot drift from what the start-up checks accept."""
    import yaml

    rows = ["| key | default | what it does |", "|---|---|---|"]
    for key, sub in _schema_keys(yaml.safe_load(Path(schema_path).read_text())):
        default = "" if "default" not in sub or isinstance(sub["default"], dict) else f"`{_yaml(sub['default'])}`"
        enum = sub.get("enum") or sub.get("items", {}).get("enum")
        allowed = f" One of: {', '.join(map(str, enum))}." if enum else ""
        text = " ".join(str(sub.get("description", "")).split()) + allowed
        text = text.replace("|", "\\|")
        rows.append(f"| `{key}` | {default} | {text} |")
    return "\n".join(rows) + "\n"


def _schema_keys(schema: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """(dotted key, its schema) depth first, in the schema's order."""
    keys = []
    for name, sub in schema.get("properties", {}).items():
        keys.append((prefix + name, sub))
        keys += _schema_keys(sub, f"{prefix}{name}.")
    return keys


def _yaml(value: Any) -> str:
    import json

    return json.dumps(value) if not isinstance(value, str) else value


def write_reference(readme: str | Path, schema_path: str | Path) -> bool:
    """Replace the generated part of `readme` with `config_reference`; True where it changed."""
    path = Path(readme)
    text = path.read_text()
    head, rest = text.split(REFERENCE_BEGIN + "\n", 1)
    _, tail = rest.split(REFERENCE_END, 1)
    new = f"{head}{REFERENCE_BEGIN}\n{config_reference(schema_path)}{REFERENCE_END}{tail}"
    path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    """python -m eqsae.pipeline.validate config/mine.yaml [...]: check config files before a run, naming file and line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eqsae.pipeline.validate", description=main.__doc__)
    parser.add_argument("configfiles", nargs="*", help="config files, each as --configfile would give it")
    parser.add_argument("--base", default="config/config.yaml", help="the defaults they extend")
    parser.add_argument("--write-reference", action="store_true",
                        help="regenerate the key reference in the README beside the base config instead")
    args = parser.parse_args(argv)
    schema = Path(args.base).parent.parent / "workflow/schemas/config.schema.yaml"
    if args.write_reference:
        changed = write_reference(Path(args.base).parent / "README.md", schema)
        print("rewritten" if changed else "unchanged", Path(args.base).parent / "README.md")
        return 0
    try:
        check_files(args.configfiles, args.base, schema)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(args.configfiles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
