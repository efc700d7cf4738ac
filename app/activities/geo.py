"""Distances on the earth: haversine, and the bounding box that prefilters a radius search.

Coordinates are GCJ-02 as the mini-program reports them; its offset from WGS-84 is
locally almost constant, so distances between GCJ-02 points are good to metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class BoundingBox:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float


def bounding_box(lat: float, lng: float, radius_m: float) -> BoundingBox:
    """A box that contains every point within `radius_m` of (lat, lng)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    # Near a pole or across the antimeridian, fall back to every longitude.
    widest = max(abs(min_lat), abs(max_lat))
    if widest >= 89.0:
        return BoundingBox(min_lat, max_lat, -180.0, 180.0)
    dlng = math.degrees(radius_m / (EARTH_RADIUS_M * math.cos(math.radians(widest))))
    if lng - dlng < -180.0 or lng + dlng > 180.0:
        return BoundingBox(min_lat, max_lat, -180.0, 180.0)
    return BoundingBox(min_lat, max_lat, lng - dlng, lng + dlng)
