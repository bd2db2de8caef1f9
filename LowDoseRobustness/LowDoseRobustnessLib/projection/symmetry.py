"""Symmetries of the pixel grid and the view set: store the system matrix of a few views only.

A motion G of the plane (rotation or reflection) that maps the pixel grid onto itself maps
each ray L of a scan onto another ray, and the line integral of an image f along G L is the
line integral of f o G along L. If G also maps the set of source angles onto itself, the
projections of every view follow from the matrix of one view per orbit, applied to the moved
images f o G. For a source at angle beta and equally spaced views k 2 pi / n:

* the rotation by q 90 degrees moves view k to view k + q n/4, same columns;
* the reflection y -> -y followed by that rotation moves view k to q n/4 - k, columns reversed
  (the detector is centred, so column i and column ``columns - 1 - i`` are mirror images).

A square grid of square pixels allows all eight motions (quarter turns need n divisible by
4; half turns n even), a rectangular grid or rectangular pixels the four that keep its axes.
With the eight, one view in eight (angles 0 to 45 degrees) is stored.

Images are ``[..., row, column]`` with row 0 at +y (ASTRA's convention, :mod:`.line_matrix`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GridMotion:
    """The rotation by ``quarter_turns`` x 90 degrees, preceded by y -> -y when ``reflected``."""

    quarter_turns: int
    reflected: bool

    def moved(self, images: np.ndarray) -> np.ndarray:
        """f o G (a view, no copy): R by q quarter turns is ``rot90(f, -q)``, y -> -y flips the rows."""
        rotated = np.rot90(images, -self.quarter_turns, axes=(-2, -1))
        return np.flip(rotated, axis=-2) if self.reflected else rotated

    def moved_back(self, images: np.ndarray) -> np.ndarray:
        """f o G^-1, the adjoint (inverse permutation) of :meth:`moved`; a reflection is its own inverse."""
        return self.moved(images) if self.reflected else np.rot90(images, self.quarter_turns, axes=(-2, -1))

    def target_views(self, views: np.ndarray, n_views: int) -> np.ndarray:
        """Indices of the views that view(s) ``views`` become under this motion."""
        shift = self.quarter_turns * n_views // 4
        return ((shift - views) if self.reflected else (views + shift)) % n_views

    def keeps_views(self, n_views: int) -> bool:
        """Whether the motion maps the n equally spaced source angles onto themselves."""
        return (self.quarter_turns * n_views) % 4 == 0


ALL_MOTIONS = tuple(GridMotion(q, reflected) for reflected in (False, True) for q in range(4))


@dataclass(frozen=True)
class ViewSymmetry:
    """Which views are stored and, per motion, the views they give (``owned``: each view exactly once)."""

    n_views: int
    motions: tuple[GridMotion, ...]
    stored_views: np.ndarray
    targets: tuple[np.ndarray, ...]
    owned: tuple[np.ndarray, ...]

    @property
    def name(self) -> str:
        """A key for caches: the motions and the view count."""
        motions = ",".join(f"{m.quarter_turns}{'r' if m.reflected else ''}" for m in self.motions)
        return f"{self.n_views}:{motions}"


def view_symmetry(n_views: int, square_grid: bool) -> ViewSymmetry:
    """The motions that keep the grid (all eight on a square grid of square pixels, else the four that
    keep the axes) and the view set, the views stored (the first of each orbit) and what each gives."""
    motions = tuple(m for m in ALL_MOTIONS if m.keeps_views(n_views) and (square_grid or m.quarter_turns % 2 == 0))
    views = np.arange(n_views)
    orbit_first = np.min([motion.target_views(views, n_views) for motion in motions], axis=0)
    stored = views[orbit_first == views]
    covered = np.zeros(n_views, bool)
    targets, owned = [], []
    for motion in motions:
        target = motion.target_views(stored, n_views)
        owned.append(~covered[target])
        covered[target] = True
        targets.append(target)
    assert covered.all(), "the motions' images of the stored views must cover every view"
    return ViewSymmetry(n_views, motions, stored, tuple(targets), tuple(owned))
