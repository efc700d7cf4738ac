"""Distances on the earth: haversine, the bounding box that prefilters a radius search,
and the local flat projection a database can sort by.

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


KM_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180 / 1000


@dataclass(frozen=True)
class LocalPlane:
    """Kilometres per degree of latitude and of longitude around a point: the
    equirectangular projection, within 0.5% of haversine out to 200 km at China's
    latitudes, and plain arithmetic, so SQLite and PostgreSQL sort by it alike."""

    lat: float
    lng: float
    km_per_lat: float
    km_per_lng: float


def local_plane(lat: float, lng: float) -> LocalPlane:
    return LocalPlane(lat, lng, KM_PER_DEGREE, KM_PER_DEGREE * math.cos(math.radians(lat)))
