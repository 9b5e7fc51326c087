"""The local live dashboard: `make dashboard` (or `smartcity dashboard`), then http://127.0.0.1:8501.

Refreshes itself every few seconds; `?refresh=off` turns that off (stable pages for tests and
screenshots). Started by `smartcity dashboard`, which sets SMARTCITY_LAKE_ROOT.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.data import HOT_ENGINE_C, DashboardData
from ingestion.route import Route

REFRESH_S = 5
MAP_HEIGHT_PX = 520
DEFAULT_CELL_DEG = 0.05  # dbt var grid_cell_deg, used when the mart has a single cell
SLOW_KMH, FAST_KMH = 20.0, 110.0  # the heat map's colour ramp: red at or below SLOW, green at or above FAST

st.set_page_config(page_title="smartcity: Boston to New York", layout="wide")
lake_root = os.environ.get("SMARTCITY_LAKE_ROOT")
if not lake_root:
    st.error(
        "Start the dashboard with `make dashboard` (or `smartcity dashboard`): it tells the page where the lake is."
    )
    st.stop()
data = DashboardData(str(lake_root), os.environ.get("SMARTCITY_DUCKDB_PATH"), os.environ.get("SMARTCITY_CATALOG"))
live = st.query_params.get("refresh", "on") != "off"

st.title("City traffic: Boston to New York")


def kpi_panel() -> None:
    k = data.kpis()
    cols = st.columns(7)
    cols[0].metric("Vehicles on the road", f"{k.vehicles_on_road:,}")
    cols[1].metric("Avg speed, last 5 min", "n/a" if k.avg_speed_kmh is None else f"{k.avg_speed_kmh:.1f} km/h")
    cols[2].metric("Active incidents", f"{k.active_incidents:,}")
    cols[3].metric("Incidents in total", f"{k.total_incidents:,}")
    cols[4].metric("Events landed / min", f"{k.events_landed_per_min:,}")
    cols[5].metric("Quarantined records", f"{k.quarantined:,}")
    cols[6].metric("Data freshness", "n/a" if k.freshness_s is None else f"{k.freshness_s:.0f} s old")
    if k.newest_sent_at is not None:
        st.caption(
            f"Newest event on screen: sent {k.newest_sent_at:%Y-%m-%d %H:%M:%S.%f}"[:-3]
            + f" UTC, event time {k.newest_event_time:%Y-%m-%d %H:%M:%S} UTC"
        )


def cell_size_deg(heat: pd.DataFrame) -> float:
    """The mart's grid step (dbt var grid_cell_deg), read off the cells: the route is continuous, so
    neighbouring cells exist and the smallest gap between corners is one cell."""
    gaps = np.diff(np.unique(np.concatenate([heat["cell_lat"].to_numpy(), heat["cell_lon"].to_numpy()])))
    gaps = gaps[gaps > 1e-9]
    return float(gaps.min()) if len(gaps) else DEFAULT_CELL_DEG


def heat_cells(heat: pd.DataFrame) -> list[dict]:
    """The heat-map mart's cells as GeoJSON squares (lower-left corner plus one step). Rings run
    clockwise: Vega's spherical geometry fills the outside of a counter-clockwise ring."""
    step = cell_size_deg(heat)
    cells = []
    for row in heat.itertuples(index=False):
        lat0, lon0 = float(row.cell_lat), float(row.cell_lon)
        lat1, lon1 = lat0 + step, lon0 + step
        ring = [[lon0, lat0], [lon0, lat1], [lon1, lat1], [lon1, lat0], [lon0, lat0]]
        speed = None if pd.isna(row.avg_speed_kmh) else round(float(row.avg_speed_kmh), 1)
        cells.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "avg_speed_kmh": speed,
                    "events": int(row.position_events),
                    "incidents": int(row.incidents),
                },
            }
        )
    return cells


def map_panel() -> None:
    """Route, heat-map cells and vehicles on one Vega-Lite map (Mercator, canvas). No base-map tiles:
    they come from other hosts (none offline, and a local tool should not call out); the route draws the
    geography. Canvas, not WebGL: in software rendering deck.gl's start-up alone took ~1.7 s per page."""
    route = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in Route().waypoints]},
    }
    layers: list[dict] = [
        {
            "data": {"values": [route]},
            "mark": {"type": "geoshape", "filled": False, "stroke": "#5a5a5a", "strokeWidth": 3},
        }
    ]
    heat = data.heatmap()
    if heat is not None and len(heat):
        speed = {
            "field": "properties.avg_speed_kmh",
            "type": "quantitative",
            "title": "avg km/h",
            "scale": {"domain": [SLOW_KMH, FAST_KMH], "range": ["#e62828", "#e6be28", "#1fa83a"], "clamp": True},
        }
        busy = {"field": "properties.events", "type": "quantitative", "legend": None, "scale": {"range": [0.35, 0.9]}}
        tooltip = [
            {"field": "properties.avg_speed_kmh", "title": "avg km/h"},
            {"field": "properties.events", "title": "position events"},
            {"field": "properties.incidents", "title": "incidents"},
        ]
        layers.append(
            {
                "data": {"values": heat_cells(heat)},
                "mark": {"type": "geoshape", "stroke": None},
                "encoding": {"color": speed, "opacity": busy, "tooltip": tooltip},
            }
        )
    positions = data.positions()
    vehicles = [
        {"vehicle_id": r.vehicle_id, "lat": float(r.lat), "lon": float(r.lon), "speed_kmh": float(r.speed_kmh)}
        for r in positions.itertuples(index=False)
    ]
    layers.append(
        {
            "data": {"values": vehicles},
            "mark": {"type": "circle", "color": "#1e3cc8", "size": 50, "opacity": 1, "tooltip": True},
            "encoding": {
                "longitude": {"field": "lon", "type": "quantitative"},
                "latitude": {"field": "lat", "type": "quantitative"},
            },
        }
    )
    spec = {"height": MAP_HEIGHT_PX, "projection": {"type": "mercator"}, "layer": layers}
    with st.container(key="route_map"):
        st.subheader("Route, latest vehicle positions, average speed per grid cell")
        st.vega_lite_chart(spec, width="stretch")


def vega_chart(where, frame: pd.DataFrame, mark: str, x: dict, y: dict, color: dict | None = None) -> None:
    """A Vega-Lite spec written out: st.line_chart and st.bar_chart build theirs through Altair, which
    takes longer per refresh than the queries behind the panels."""
    encoding = {"x": x, "y": y} | ({"color": color} if color else {})
    # Lines carry points: the first hour of a run is a single point, which a bare line does not draw.
    style = {"type": mark, "tooltip": True} | ({"point": True} if mark == "line" else {})
    where.vega_lite_chart(frame, {"mark": style, "encoding": encoding}, width="stretch")


HOUR = {"field": "hour_start", "type": "temporal", "title": "hour (UTC)"}


def history_panels() -> None:
    speed = data.speed_over_time()
    if speed is None:
        st.info(
            "The marts are not built yet: `make stream` rebuilds them every minute, or run `dbt build` in dbt_project/."
        )
        return
    as_of = data.marts_as_of()
    if as_of is not None:
        st.caption(f"Charts below: marts built from the data landed up to {as_of:%Y-%m-%d %H:%M:%S} UTC")
    left, right = st.columns(2)
    left.subheader("Speed per hour over every reading (km/h): average and 95th percentile")
    speed = speed.melt("hour_start", ["avg_speed_kmh", "p95_speed_kmh"], "measure", "km/h")
    kmh = {"field": "km/h", "type": "quantitative"}
    vega_chart(left, speed, "line", HOUR, kmh, {"field": "measure", "type": "nominal"})
    right.subheader("Average speed per route segment, last hour (km/h)")
    segment = {"field": "segment_start_km", "type": "ordinal", "title": "segment start (km from Boston)"}
    vega_chart(right, data.segments_last_hour(), "bar", segment, {"field": "avg_speed_kmh", "type": "quantitative"})
    incidents = data.incidents_over_time()
    if incidents is None:  # a dbt build that stopped part-way: the marts it made are shown above
        st.info("The incident and weather marts are not built yet: run `dbt build` in dbt_project/.")
        return
    incidents["type_and_status"] = incidents["incident_type"] + ", " + incidents["incident_status"]
    left, right = st.columns(2)
    left.subheader("Incident events per hour, by type and status")
    hour_bar = HOUR | {"type": "ordinal", "timeUnit": "utcyearmonthdatehours"}  # one bar per hour
    events = {"field": "incident_events", "type": "quantitative", "aggregate": "sum", "title": "events"}
    vega_chart(left, incidents, "bar", hour_bar, events, {"field": "type_and_status", "type": "nominal"})
    right.subheader("Weather by region: temperature (°C, solid), precipitation (mm, dashed)")
    region = {"field": "region", "type": "nominal"}
    celsius = {"field": "avg_temperature_c", "type": "quantitative", "title": "°C"}
    rain = {"field": "avg_precipitation_mm", "type": "quantitative", "title": "mm"}
    weather = {
        "layer": [
            {
                "mark": {"type": "line", "point": True, "tooltip": True},
                "encoding": {"x": HOUR, "y": celsius, "color": region},
            },
            {
                "mark": {"type": "line", "strokeDash": [4, 3], "point": True, "tooltip": True},
                "encoding": {"x": HOUR, "y": rain | {"axis": {"orient": "right"}}, "color": region},
            },
        ],
        "resolve": {"scale": {"y": "independent"}},
    }
    right.vega_lite_chart(data.weather(), weather, width="stretch")


def health_panels() -> None:
    left, right = st.columns(2)
    left.subheader("Pipeline health (latest batch per stream)")
    left.table(data.pipeline_health(), hide_index=True)
    right.subheader("Quarantine by reason")
    right.table(data.quarantine_reasons(), hide_index=True)


def fleet_panels() -> None:
    versions = data.fleet_versions()
    if versions is None:
        return
    left, right = st.columns(2)
    left.subheader("Vehicles per contract version (a rolling upgrade's progress)")
    left.table(versions, hide_index=True)
    right.subheader(f"Hottest engines (°C; version 2 telemetry, over {HOT_ENGINE_C:.0f} °C flagged)")
    hottest = data.hottest_engines()
    if hottest is None:
        right.info("No engine temperatures yet: every vehicle is on contract version 1.")
    else:
        right.table(hottest, hide_index=True)


@st.fragment(run_every=REFRESH_S if live else None)
def page() -> None:
    if not data.has_data():
        st.info("No data yet: run `make stream`.")
        return
    kpi_panel()
    map_panel()
    history_panels()
    fleet_panels()
    health_panels()


page()
