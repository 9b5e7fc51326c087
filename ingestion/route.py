"""The road route from Northeastern University, Boston to Times Square, New York.

A polyline along I-90 (Mass Pike), I-84 through Hartford and Danbury, I-684 and the
Hutchinson/Major Deegan into Manhattan; positions are interpolated along it by distance.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

from ingestion.packaged import csv_rows

EARTH_RADIUS_KM = 6371.0088


# (lat, lon) along the road, Boston first (the place each is at: route_waypoints.csv).
WAYPOINTS: tuple[tuple[float, float], ...] = tuple(
    (float(row["lat"]), float(row["lon"])) for row in csv_rows("route_waypoints.csv")
)
# Where each stretch ends, as a share of the route (so they stay right if waypoints are refined),
# its region and its free-flow speed.
STRETCHES: tuple[tuple[float, str, float], ...] = tuple(
    (float(row["end_share"]), row["region"], float(row["free_flow_kmh"])) for row in csv_rows("route_stretches.csv")
)


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of road: where it ends, its name (the weather region) and a typical speed."""

    end_km: float
    region: str
    free_flow_kmh: float


@dataclass(frozen=True, slots=True)
class Camera:
    camera_id: str
    route_km: float
    lat: float
    lon: float


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


class Route:
    """Distance-parametrised polyline: position, heading and road stretch at any km."""

    def __init__(self, waypoints: tuple[tuple[float, float], ...] = WAYPOINTS) -> None:
        self.waypoints = waypoints
        cumulative = [0.0]
        for a, b in itertools.pairwise(waypoints):
            cumulative.append(cumulative[-1] + haversine_km(a, b))
        self.cumulative_km = cumulative
        self.length_km = cumulative[-1]
        self.headings = [_bearing_deg(a, b) for a, b in itertools.pairwise(waypoints)]
        self.stretches = tuple(Stretch(s * self.length_km, name, v) for s, name, v in STRETCHES)
        self._stretch_ends = [s.end_km for s in self.stretches]

    def _segment(self, km: float) -> int:
        km = min(max(km, 0.0), self.length_km)
        return min(bisect.bisect_right(self.cumulative_km, km) - 1, len(self.waypoints) - 2)

    def position(self, km: float) -> tuple[float, float, float]:
        """(lat, lon, heading_deg) at a distance along the route."""
        i = self._segment(km)
        start, end = self.cumulative_km[i], self.cumulative_km[i + 1]
        t = 0.0 if end == start else (min(max(km, 0.0), self.length_km) - start) / (end - start)
        (lat1, lon1), (lat2, lon2) = self.waypoints[i], self.waypoints[i + 1]
        return lat1 + t * (lat2 - lat1), lon1 + t * (lon2 - lon1), self.headings[i]

    def stretch(self, km: float) -> Stretch:
        i = bisect.bisect_left(self._stretch_ends, km)
        return self.stretches[min(i, len(self.stretches) - 1)]

    def cameras(self, spacing_km: float = 12.0) -> tuple[Camera, ...]:
        """Fixed cameras every ``spacing_km``, starting a little out of Boston."""
        cams = []
        km = spacing_km / 2
        n = 1
        while km < self.length_km:
            lat, lon, _ = self.position(km)
            cams.append(Camera(f"CAM-{n:03d}", round(km, 3), round(lat, 6), round(lon, 6)))
            km += spacing_km
            n += 1
        return tuple(cams)

    def bounding_box(self, margin_deg: float = 0.05) -> tuple[float, float, float, float]:
        """(min_lat, max_lat, min_lon, max_lon) of the route plus a margin."""
        lats = [p[0] for p in self.waypoints]
        lons = [p[1] for p in self.waypoints]
        return min(lats) - margin_deg, max(lats) + margin_deg, min(lons) - margin_deg, max(lons) + margin_deg
