"""The binary probing tasks (paper Section 4, Appendix C.1; 180 under C4) and their labels.

A task asks whether an image (one rotation of it) contains a shape (S), a shape in an orientation (SO), a
shape at a position (SP), or a shape at a position in an orientation (SPO). Only S is rotation-invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eqsae.group import C4, Group
from eqsae.sources.shapes import N_POSITIONS, N_SHAPES, POSITIONS, SHAPES, orbit_sizes

TASK_GROUPS = ("S", "SO", "SP", "SPO")


@dataclass(frozen=True)
class Task:
    group: str
    shape: int
    position: int | None = None
    orientation: int | None = None

    @property
    def name(self) -> str:
        where = "" if self.position is None else f"@{POSITIONS[self.position]}"
        turn = "" if self.orientation is None else f"/o{self.orientation}"
        return f"{self.group}:{SHAPES[self.shape]}{where}{turn}"


def make_tasks(group: Group = C4) -> list[Task]:
    """S, SO, SP and SPO tasks; orientations per shape are its own orbit size under the group, read from the
    pixels. C4: 8 + 28 + 32 + 112 = 180 (v1); D4: see `task_counts`."""
    sizes = orbit_sizes(group)
    shape_turns = [(s, o) for s in range(N_SHAPES) for o in range(sizes[s])]
    return [
        *(Task("S", s) for s in range(N_SHAPES)),
        *(Task("SO", s, orientation=o) for s, o in shape_turns),
        *(Task("SP", s, position=q) for s in range(N_SHAPES) for q in range(N_POSITIONS)),
        *(Task("SPO", s, position=q, orientation=o) for s, o in shape_turns for q in range(N_POSITIONS)),
    ]


def task_counts(group: Group = C4) -> dict[str, int]:
    """Tasks per task group and in all, as the pixels give them for this group."""
    tasks = make_tasks(group)
    counts = {g: sum(t.group == g for t in tasks) for g in TASK_GROUPS}
    return {**counts, "all": len(tasks)}


def task_labels(tasks: list[Task], shapes: np.ndarray, orientations: np.ndarray) -> np.ndarray:
    """(rows, n_tasks) bool from per-position labels (rows, 4) of each (rotated) image."""
    columns = []
    for task in tasks:
        hit = shapes == task.shape
        if task.orientation is not None:
            hit &= orientations == task.orientation
        columns.append(hit.any(axis=1) if task.position is None else hit[:, task.position])
    return np.stack(columns, axis=1)


def orbit_labels(shapes: np.ndarray, orientations: np.ndarray, tasks: list[Task]) -> np.ndarray:
    """(n * |G|, n_tasks) labels of every element of every image, from (n, |G|, 4) per-position labels."""
    return task_labels(tasks, shapes.reshape(-1, N_POSITIONS), orientations.reshape(-1, N_POSITIONS))


def paper_tasks(labels: dict[str, np.ndarray], group: Group = C4) -> tuple[list[Task], np.ndarray]:
    """The paper's tasks and their (rows, n_tasks) labels from a Shapes orbit table's label columns
    (`eqsae.sources.shapes.SHAPE_LABELS`: shape_q and orientation_q of each quadrant q), rows orbit-major."""
    shapes, orientations = (np.stack([np.asarray(labels[f"{name}_{q}"]).ravel() for q in range(N_POSITIONS)], axis=-1)
                            for name in ("shape", "orientation"))  # fmt: skip
    tasks = make_tasks(group)
    return tasks, task_labels(tasks, shapes, orientations)


TASK_KINDS = ("labels", "paper")
"""How an orbit table's labels become probing tasks (config key orbits.tasks)."""


def orbit_tasks(kind: str, labels: dict[str, np.ndarray], group: Group = C4,
                columns: list[str] | None = None) -> tuple[list, np.ndarray]:  # fmt: skip
    """The probing tasks of held-out orbits and their labels: `labels`, one per value of each label column
    (`columns`, default all; `eqsae.sources.orbit_table.label_tasks`); `paper`, the paper's S, SO, SP and SPO tasks
    of a Shapes table (`paper_tasks`)."""
    if kind == "paper":
        return paper_tasks(labels, group)
    if kind != "labels":
        raise ValueError(f"probing tasks {kind!r}: not one of {TASK_KINDS}")
    from eqsae.sources.orbit_table import label_tasks

    return label_tasks(labels, columns)


@dataclass(frozen=True)
class HeldOutOrbits:
    """What the probes, R^2, the atlas, its cards and the explorer read of a replicate: its held-out orbits."""

    acts: np.ndarray
    """(n, |G|, d) activations."""
    labels: np.ndarray
    """(n * |G|, n_tasks) bool task labels, rows orbit-major."""
    tasks: list
    """The probing tasks (`orbit_tasks`): one per value of each label column, or the paper's."""
    orbit_ids: np.ndarray
    """(n,) the table's orbit ids: which images are theirs."""


def read_held_out(path, group: Group, held_out: float | str, seed: int, columns: list[str] | None = None,
                  tasks: str = "labels") -> HeldOutOrbits:  # fmt: skip
    """A replicate's held-out orbits of the table at `path` and their probing tasks: one per value of each label
    column (`columns`, default every one), or the paper's (`tasks="paper"`, a Shapes table; `orbit_tasks`)."""
    from eqsae.sources.orbit_table import read_split

    table, mask = read_split(path, group, held_out, seed)
    task_list, labels = orbit_tasks(tasks, {c: v[mask] for c, v in table.labels.items()}, group, columns or None)
    return HeldOutOrbits(table.acts[mask], labels, task_list, table.orbit_ids[mask])


def held_out_of(path, settings: dict, seed: int) -> HeldOutOrbits:
    """`read_held_out` with the workflow's orbits settings (group, held_out, labels and, where set, tasks)."""
    from eqsae.group import get_group

    return read_held_out(path, get_group(settings["group"]), settings["held_out"], seed, settings["labels"],
                         settings.get("tasks", "labels"))  # fmt: skip
