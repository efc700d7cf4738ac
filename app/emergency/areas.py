"""A grid's area as the map sees it: a polygon that encloses something (at least three
distinct vertices, a non-zero area, no edge crossing another) or a circle."""

from __future__ import annotations

import math
from collections.abc import Sequence

from app.activities.geo import EARTH_RADIUS_M

Vertex = tuple[float, float]  # (latitude, longitude)

# Less than a square metre is no area: the vertices are one point or on one line.
MIN_AREA_M2 = 1.0


def _projected(points: Sequence[Vertex]) -> list[tuple[float, float]]:
    """Metres east and north of the first vertex, flat: good over a grid's few kilometres."""
    lat0, lng0 = points[0]
    scale = math.cos(math.radians(lat0))
    return [
        (
            math.radians(lng - lng0) * EARTH_RADIUS_M * scale,
            math.radians(lat - lat0) * EARTH_RADIUS_M,
        )
        for lat, lng in points
    ]


def area_m2(points: Sequence[Vertex]) -> float:
    xy = _projected(points)
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(xy, xy[1:] + xy[:1], strict=True))
    return abs(twice) / 2


def _orientation(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> int:
    value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (value > 1e-9) - (value < -1e-9)


def _cross(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
) -> bool:
    """Whether two segments cross or touch (collinear overlaps included)."""
    o1, o2 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    o3, o4 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    if o1 != o2 and o3 != o4:
        return True

    def on(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(
            a[1], b[1]
        )

    return (
        (o1 == 0 and on(p1, p2, q1))
        or (o2 == 0 and on(p1, p2, q2))
        or (o3 == 0 and on(q1, q2, p1))
        or (o4 == 0 and on(q1, q2, p2))
    )


def polygon_problem(points: Sequence[Vertex]) -> str | None:
    """Why the vertices enclose no region, or None when they do."""
    if len(set(points)) != len(points):
        return "a vertex is repeated"
    if area_m2(points) < MIN_AREA_M2:
        return "the vertices enclose no area (one point, or all on one line)"
    xy = _projected(points)
    edges = list(zip(xy, xy[1:] + xy[:1], strict=True))
    count = len(edges)
    for i in range(count):
        for j in range(i + 1, count):
            # Neighbouring edges share a vertex; only the others may not meet.
            if j == i + 1 or (i == 0 and j == count - 1):
                continue
            if _cross(*edges[i], *edges[j]):
                return "two edges of the polygon cross"
    return None


def centroid(points: Sequence[Vertex]) -> Vertex:
    """The vertices' mean: a label's place on the map, not the area's centre of mass."""
    return (
        sum(lat for lat, _ in points) / len(points),
        sum(lng for _, lng in points) / len(points),
    )
