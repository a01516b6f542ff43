"""Groups G = {g^p h^q} of one or two cyclic generators acting on images (v2 Section 3; v1 has C4 only).

C4: g = one 90-degree rotation (np.rot90, counter-clockwise). D4: C4 plus h = a vertical flip (top and bottom
swap, np.flipud). Element index e = q * ord(g) + p stands for g^p h^q, acting as x -> g^p (h^q x): the first
ord(g) elements are the rotations, so a C4 orbit is the first four rows of a D4 orbit. Everything else (labels,
activations, M and R, SAE training, probing) asks the group for its elements and its action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Group:
    """A split metacyclic group: generators g (order orders[0]) and optionally h (order orders[1]) with
    h g h^-1 = g^twist (twist 1: they commute; D4: twist = -1, a reflection reverses a rotation)."""

    name: str
    orders: tuple[int, ...]
    twist: int = 1

    def __post_init__(self) -> None:
        if len(self.orders) not in (1, 2) or min(self.orders) < 2:
            raise ValueError(f"group {self.name}: one or two generators of order >= 2, got orders {self.orders}")
        if len(self.orders) == 2 and pow(self.twist, self.orders[1], self.orders[0]) != 1:
            raise ValueError(f"group {self.name}: twist^ord(h) must be 1 mod ord(g) for h g h^-1 = g^twist")

    @property
    def order(self) -> int:
        """|G|."""
        return math.prod(self.orders)

    @property
    def n_generators(self) -> int:
        return len(self.orders)

    def element(self, e: int) -> tuple[int, int]:
        """(p, q) of element e = g^p h^q."""
        if not 0 <= e < self.order:
            raise ValueError(f"group {self.name} has elements 0..{self.order - 1}, got {e}")
        q, p = divmod(e, self.orders[0])
        return p, q

    def fitted_exponents(self, e: int) -> tuple[int, int]:
        """(p, q) of element e as v2's Eq. 8 writes it, p in 1..ord(g) and q in 1..ord(h) (a rotation g^p is
        g^p h^ord(h), the flip g^ord(g) h): the product M^p R^q that the fit trained for e, so the one to use
        wherever e acts on activations. Fitted M^ord(g) and R^ord(h) are only near I. One generator: (p, 0)."""
        p, q = self.element(e)
        if self.n_generators == 1 or e == 0:
            return p, q
        return p or self.orders[0], q or self.orders[1]

    def index(self, p: int, q: int = 0) -> int:
        """Element index of g^p h^q (exponents taken modulo the generators' orders)."""
        q = q % self.orders[1] if self.n_generators == 2 else 0
        return q * self.orders[0] + p % self.orders[0]

    def compose(self, a: int, b: int) -> int:
        """a . b (b first, then a): g^p1 h^q1 g^p2 h^q2 = g^(p1 + twist^q1 p2) h^(q1 + q2)."""
        (p1, q1), (p2, q2) = self.element(a), self.element(b)
        return self.index(p1 + pow(self.twist, q1, self.orders[0]) * p2, q1 + q2)

    @cached_property
    def inverses(self) -> tuple[int, ...]:
        return tuple(next(b for b in range(self.order) if self.compose(a, b) == 0) for a in range(self.order))

    def inverse(self, e: int) -> int:
        return self.inverses[e]

    @property
    def acts_on_images(self) -> bool:
        """g is a quarter turn (order 4) and h, where there is one, a flip (order 2): the groups of pixel images."""
        return self.orders[0] == 4 and self.orders[1:] in ((), (2,))

    def act(self, images: np.ndarray, e: int) -> np.ndarray:
        """g^p h^q acting on (..., H, W) images (a view where numpy allows)."""
        if not self.acts_on_images:
            raise ValueError(f"group {self.name} has no action on pixel images (only quarter turns and flips do)")
        p, q = self.element(e)
        flipped = np.flip(images, axis=-2) if q % 2 else images  # h has order 2 in every group we act with
        return np.rot90(flipped, p, axes=(-2, -1))

    def orbit(self, images: np.ndarray) -> np.ndarray:
        """Every element applied to each image: (n, H, W) -> (n, |G|, H, W), index e holding g^p h^q x."""
        return np.ascontiguousarray(np.stack([self.act(images, e) for e in range(self.order)], axis=1))


C4 = Group("C4", (4,))
D4 = Group("D4", (4, 2), twist=3)
GROUPS: dict[str, Group] = {"C4": C4, "D4": D4}
"""The groups that act on images; `get_group` also names every cyclic group C<n> (the toy model, orbit tables)."""


def get_group(name: str) -> Group:
    """C4, D4, or the cyclic group C<n> of order n >= 2 (which acts on activations, not on images, for n != 4)."""
    if name in GROUPS:
        return GROUPS[name]
    if name.startswith("C") and name[1:].isdigit() and not name[1:].startswith("0") and int(name[1:]) >= 2:
        return Group(name, (int(name[1:]),))
    raise ValueError(f"unknown group {name!r}; known groups are {sorted(GROUPS)} and C<n> for n >= 2") from None


def image_group(name: str) -> Group:
    """A group that acts on images (C4, D4): what a base network trains under; the others are refused by name."""
    group = get_group(name)
    if not group.acts_on_images:
        raise ValueError(f"group {name} has no action on images (only quarter turns and flips do): give C4 or D4")
    return group


# The paper's group, C4, as v1 wrote it: what code that knows only rotations asks.
ORDER = C4.order
"""|C4|: g^4 is the identity."""


def rotate(images: np.ndarray, p: int) -> np.ndarray:
    """g^p acting on (..., H, W) images: p counter-clockwise quarter turns."""
    return np.rot90(images, p % ORDER, axes=(-2, -1))


def orbit(images: np.ndarray) -> np.ndarray:
    """All rotations of each image: (n, H, W) -> (n, |C4|, H, W), index p holding g^p x."""
    return C4.orbit(images)
