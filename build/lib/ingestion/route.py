"""The road route from Northeastern University, Boston to Times Square, New York.

A polyline along I-90 (Mass Pike), I-84 through Hartford and Danbury, I-684 and the
Hutchinson/Major Deegan into Manhattan; positions are interpolated along it by distance.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088

# (lat, lon) along the road, Boston first.
WAYPOINTS: tuple[tuple[float, float], ...] = (
    (42.3399, -71.0899),  # Northeastern University
    (42.3467, -71.1010),  # Mass Pike on-ramp, Fenway
    (42.3560, -71.1420),  # Allston
    (42.3470, -71.2070),  # Newton
    (42.3130, -71.3110),  # Weston / I-95 interchange
    (42.2930, -71.4170),  # Framingham
    (42.2590, -71.5440),  # Hopkinton
    (42.2360, -71.6590),  # Grafton
    (42.2000, -71.7620),  # Millbury / Worcester
    (42.1470, -71.8650),  # Auburn / Charlton
    (42.1140, -71.9800),  # Charlton service plaza
    (42.1060, -72.0700),  # Sturbridge: I-84 junction
    (42.0640, -72.1450),  # Holland
    (42.0190, -72.2130),  # CT state line
    (41.9640, -72.2830),  # Union
    (41.9180, -72.3600),  # Willington
    (41.8720, -72.4380),  # Tolland
    (41.8330, -72.5120),  # Vernon
    (41.7900, -72.6000),  # Manchester
    (41.7637, -72.6851),  # Hartford
    (41.7420, -72.7470),  # West Hartford
    (41.6920, -72.8100),  # Farmington
    (41.6700, -72.8800),  # Plainville
    (41.6190, -72.9580),  # Southington
    (41.5582, -73.0515),  # Waterbury
    (41.5050, -73.1220),  # Middlebury
    (41.4650, -73.2100),  # Southbury
    (41.4140, -73.3070),  # Newtown
    (41.3948, -73.4540),  # Danbury
    (41.3973, -73.6171),  # Brewster: I-684
    (41.3180, -73.6680),  # North Salem
    (41.2330, -73.6900),  # Bedford
    (41.1210, -73.7330),  # Armonk
    (41.0340, -73.7629),  # White Plains
    (40.9600, -73.8150),  # Scarsdale / Hutchinson
    (40.8930, -73.8560),  # Bronx, Pelham Parkway
    (40.8320, -73.9270),  # Major Deegan, Yankee Stadium
    (40.7990, -73.9440),  # Harlem
    (40.7680, -73.9810),  # Columbus Circle
    (40.7580, -73.9855),  # Times Square
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
        # Stretches by share of the route so they stay right if waypoints are refined.
        shares = (
            (0.03, "Boston", 50.0),
            (0.20, "Metrowest-Worcester", 105.0),
            (0.32, "Sturbridge-Tolland", 105.0),
            (0.42, "Hartford", 85.0),
            (0.58, "Waterbury", 100.0),
            (0.70, "Danbury", 100.0),
            (0.86, "Westchester", 95.0),
            (0.93, "Bronx", 70.0),
            (1.00, "Manhattan", 35.0),
        )
        self.stretches = tuple(Stretch(s * self.length_km, name, v) for s, name, v in shares)
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
