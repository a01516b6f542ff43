"""Groups of one or two cyclic generators (eqsae.group) and what they do to the shapes' labels and tasks."""

import itertools

import numpy as np
import pytest

from eqsae.group import C4, D4, GROUPS, Group, get_group
from eqsae.probing.tasks import make_tasks, task_counts
from eqsae.sources.shapes import SHAPES, generate, orbit_size, orbit_sizes, read_labels, shape_tiles, transform_labels

IMAGES = np.random.default_rng(0).integers(0, 255, size=(3, 6, 6))


@pytest.mark.parametrize("group", GROUPS.values(), ids=str)
def test_composition_is_the_action_applied_twice(group):
    for a, b in itertools.product(range(group.order), repeat=2):
        np.testing.assert_array_equal(group.act(IMAGES, group.compose(a, b)), group.act(group.act(IMAGES, b), a))


@pytest.mark.parametrize("group", GROUPS.values(), ids=str)
def test_elements_are_distinct_and_inverses_undo_them(group):
    images = [group.act(IMAGES, e).tobytes() for e in range(group.order)]
    assert len(set(images)) == group.order
    for e in range(group.order):
        assert group.compose(e, group.inverse(e)) == group.compose(group.inverse(e), e) == 0
        np.testing.assert_array_equal(group.act(group.act(IMAGES, e), group.inverse(e)), IMAGES)


def test_any_cyclic_group_is_named_by_its_order():
    c8 = get_group("C8")
    assert (c8.order, c8.n_generators, c8.acts_on_images) == (8, 1, False)
    assert c8.compose(5, 6) == 3 and c8.inverse(3) == 5
    assert get_group("C4") is C4 and C4.acts_on_images and D4.acts_on_images


def test_each_generator_has_its_order():
    for group in GROUPS.values():
        for gen, order in enumerate(group.orders):
            x, one = IMAGES, group.index(*((1, 0) if gen == 0 else (0, 1)))
            for step in range(1, order + 1):
                x = group.act(x, one)
                assert np.array_equal(x, IMAGES) == (step == order), (group.name, gen, step)
    assert (C4.order, D4.order) == (4, 8)
    assert D4.element(5) == (1, 1) and D4.index(1, 1) == 5 and D4.index(5, 3) == 5


def test_d4_is_rotations_then_flipped_rotations():
    np.testing.assert_array_equal(D4.orbit(IMAGES)[:, :4], C4.orbit(IMAGES))
    np.testing.assert_array_equal(D4.act(IMAGES, D4.index(0, 1)), IMAGES[:, ::-1])  # h: the vertical flip
    np.testing.assert_array_equal(D4.act(IMAGES, D4.index(1, 1)), np.rot90(IMAGES[:, ::-1], axes=(1, 2)))


def test_bad_groups_are_refused():
    for name in ("C1", "C08", "D8", "c4", "rot"):
        with pytest.raises(ValueError, match=f"unknown group '{name}'"):
            get_group(name)
    with pytest.raises(ValueError, match="C8 has no action on pixel images"):
        get_group("C8").act(IMAGES, 1)  # an eighth of a turn is no pixel permutation
    with pytest.raises(ValueError, match="twist"):
        Group("bad", (4, 2), twist=2)


@pytest.mark.parametrize("group", GROUPS.values(), ids=str)
def test_labels_of_every_transformed_image_are_the_transformed_labels(group):
    data = generate(40, np.random.default_rng(1), group)
    for e in range(group.order):
        moved = transform_labels(data.shapes[:, 0], data.orientations[:, 0], e, group)
        read = read_labels(group.act(data.images, e), group)
        np.testing.assert_array_equal(moved[0], read[0], err_msg=f"{group.name} element {e}: shapes")
        np.testing.assert_array_equal(moved[1], read[1], err_msg=f"{group.name} element {e}: orientations")
        np.testing.assert_array_equal(data.shapes[:, e], read[0])  # what generate stored for element e
        np.testing.assert_array_equal(data.orientations[:, e], read[1])


def test_d4_orbit_sizes_come_from_the_pixels():
    sizes = dict(zip(SHAPES, orbit_sizes(D4)))
    for tile, (name, size) in zip(shape_tiles(), sizes.items()):
        stabiliser = sum(np.array_equal(D4.act(tile, e), tile) for e in range(D4.order))
        assert size * stabiliser == D4.order, name  # orbit-stabiliser
        assert size % orbit_size(tile, C4) == 0 and size in (1, 2, 4, 8)
    # a rectangle centred in its tile is mirror-symmetric; an L is not; a T is symmetric about its stem
    assert (sizes["rectangle"], sizes["L"], sizes["T"]) == (2, 8, 4)
    assert orbit_sizes(C4) == (2, 2, 4, 4, 4, 4, 4, 4)


def test_task_counts_follow_the_orbit_sizes():
    assert task_counts(C4) == {"S": 8, "SO": 28, "SP": 32, "SPO": 112, "all": 180}
    so = sum(orbit_sizes(D4))
    assert task_counts(D4) == {"S": 8, "SO": so, "SP": 32, "SPO": 4 * so, "all": 40 + 5 * so}
    assert len({t.name for t in make_tasks(D4)}) == task_counts(D4)["all"]
