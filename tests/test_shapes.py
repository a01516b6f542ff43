import numpy as np
import pytest

from eqsae.group import ORDER, orbit, rotate
from eqsae.sources.shapes import (
    N_SHAPES,
    SHAPES,
    compose,
    generate,
    orbit_size,
    quadrants,
    read_labels,
    rotate_labels,
    shape_tiles,
)


def test_orbit_sizes_from_pixels():
    """Paper Figure 6: rectangle and diagonal have 2 orientations, the other six 4; none is invariant."""
    sizes = {name: orbit_size(tile) for name, tile in zip(SHAPES, shape_tiles())}
    assert sorted(sizes.values()) == [2, 2, 4, 4, 4, 4, 4, 4]
    assert sizes["rectangle"] == sizes["diagonal"] == 2
    for tile in shape_tiles():
        assert not np.array_equal(np.rot90(tile), tile)
        assert 100 < (tile > 0).sum() < 32 * 32 / 2, "a shape must be a clear blob, not noise or a full tile"


def test_no_shape_is_a_rotation_of_another():
    seen = {}
    for s, tile in enumerate(shape_tiles()):
        for p in range(ORDER):
            key = np.rot90(tile, p).tobytes()
            assert seen.setdefault(key, s) == s, f"{SHAPES[s]} rotated {p} times looks like {SHAPES[seen[key]]}"


def test_four_rotations_give_the_image_back(small_set):
    images = small_set.images
    turned = images
    for _ in range(ORDER):
        assert not np.array_equal(turned, images) or _ == 0
        turned = rotate(turned, 1)
    np.testing.assert_array_equal(turned, images)
    np.testing.assert_array_equal(rotate(images, ORDER), images)
    np.testing.assert_array_equal(orbit(images)[:, 3], rotate(rotate(images, 2), 1))


@pytest.mark.parametrize("p", range(ORDER), ids=lambda p: f"g^{p}")
def test_labels_of_rotated_image_follow_the_geometry(small_set, p):
    """Labels read from the pixels of g^p x equal g^p applied to the labels of x."""
    shapes, orientations = read_labels(small_set.images)
    read_shapes, read_orient = read_labels(rotate(small_set.images, p))
    moved_shapes, moved_orient = rotate_labels(shapes, orientations, p)
    np.testing.assert_array_equal(read_shapes, moved_shapes)
    np.testing.assert_array_equal(read_orient, moved_orient)
    np.testing.assert_array_equal(small_set.shapes[:, p], read_shapes)
    np.testing.assert_array_equal(small_set.orientations[:, p], read_orient)


def test_rotation_moves_quadrants_clockwise_in_position_order():
    """After p rotations, position q (TL, TR, BR, BL) holds canonical quadrant (q + p) mod 4."""
    canonical = np.array([[0, 2, 3, 4]])
    image = compose(canonical)
    for p in range(ORDER):
        shapes, _ = read_labels(rotate(image, p))
        np.testing.assert_array_equal(shapes[0], canonical[0, (np.arange(4) + p) % 4])


def test_canonical_images_have_orientation_zero_and_the_drawn_shapes():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, N_SHAPES, size=(32, 4))
    shapes, orientations = read_labels(compose(ids))
    np.testing.assert_array_equal(shapes, ids)
    assert (orientations == 0).all()
    np.testing.assert_array_equal(quadrants(compose(ids))[:, 1], shape_tiles()[ids[:, 1]])


def test_unknown_pixels_are_rejected_with_the_quadrant():
    image = compose(np.array([[0, 1, 2, 3]]))
    image[0, 40, 5] ^= 255  # one pixel in the bottom-left quadrant
    with pytest.raises(ValueError, match="quadrant 3 of image 0"):
        read_labels(image)


def test_image_sets_are_seeded():
    a, b = generate(50, np.random.default_rng([0, 1])), generate(50, np.random.default_rng([0, 1]))
    c = generate(50, np.random.default_rng([0, 2]))
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.dtype == np.uint8 and a.images.shape == (50, 64, 64)
    assert a.shapes.shape == a.orientations.shape == (50, ORDER, 4)


def test_image_orientation_draws_what_it_drew_before_shape_orientation_existed():
    drawn = generate(40, np.random.default_rng([5, 0]), orientation="image").images
    ids = np.random.default_rng([5, 0]).integers(0, N_SHAPES, size=(40, 4))
    np.testing.assert_array_equal(drawn, compose(ids))


@pytest.mark.parametrize("group_name", ["C4", "D4"])
def test_under_shape_orientation_a_shapes_orientation_is_not_a_function_of_the_group_element(group_name):
    """Read from the pixels: under `image` every placed shape's orientation is fixed by the element (p mod its
    orbit size under C4); under `shape` each element sees every orientation of every shape."""
    from eqsae.group import get_group

    group = get_group(group_name)
    sizes = np.array([orbit_size(tile, group) for tile in shape_tiles()])
    for orientation, function_of_element in (("image", True), ("shape", False)):
        data = generate(300, np.random.default_rng(1), group, orientation)
        shapes, turns = read_labels(group.orbit(data.images), group)
        np.testing.assert_array_equal(shapes, data.shapes)
        np.testing.assert_array_equal(turns, data.orientations)
        for e in range(group.order):
            for s in range(N_SHAPES):
                seen = set(turns[:, e][shapes[:, e] == s].tolist())
                assert (len(seen) == 1) == function_of_element, (orientation, e, SHAPES[s], seen)
                if not function_of_element:
                    assert seen == set(range(sizes[s]))
    with pytest.raises(ValueError, match="orientation"):
        generate(2, np.random.default_rng(0), orientation="quadrant")
