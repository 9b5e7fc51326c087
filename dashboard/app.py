"""The local live dashboard: `make dashboard` (or `smartcity dashboard`), then http://127.0.0.1:8501.

Refreshes itself every few seconds; `?refresh=off` turns that off (stable pages for tests and
screenshots). Started by `smartcity dashboard`, which sets SMARTCITY_LAKE_ROOT.
"""

from __future__ import annotations

import os

import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard.data import DashboardData
from ingestion.route import Route

REFRESH_S = 5
BLANK_STYLE = "app/static/blank-style.json"
HEAT_CELL_RADIUS_M = 2500  # about half a grid cell of agg_route_heatmap (dbt var grid_cell_deg = 0.05)
SLOW_KMH, FAST_KMH = 20.0, 110.0  # the heat map's colour ramp: red at or below SLOW, green at or above FAST

st.set_page_config(page_title="smartcity: Boston to New York", layout="wide")
lake_root = os.environ.get("SMARTCITY_LAKE_ROOT")
if not lake_root:
    st.error(
        "Start the dashboard with `make dashboard` (or `smartcity dashboard`): it tells the page where the lake is."
    )
    st.stop()
data = DashboardData(lake_root)
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


def heat_colors(heat: pd.DataFrame) -> pd.DataFrame:
    """Each grid cell coloured by its average speed (red: jams, green: free flow), more opaque where busier."""
    share = ((heat["avg_speed_kmh"].fillna(SLOW_KMH) - SLOW_KMH) / (FAST_KMH - SLOW_KMH)).clip(0, 1)
    busy = heat["position_events"] / max(int(heat["position_events"].max()), 1)
    colors = [[int(230 * (1 - s)), int(190 * s), 40, int(70 + 150 * b)] for s, b in zip(share, busy, strict=True)]
    return heat.assign(color=colors)


def map_panel() -> None:
    route = pd.DataFrame({"path": [[[lon, lat] for lat, lon in Route().waypoints]]})
    layers = [pdk.Layer("PathLayer", route, get_path="path", get_color=[90, 90, 90], width_min_pixels=3)]
    heat = data.heatmap()
    if heat is not None and len(heat):
        # The mart's own grid cells as discs, not deck.gl's HeatmapLayer: the picture is the mart's
        # aggregation, and one layer type fewer keeps WebGL start-up short on software renderers.
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                heat_colors(heat),
                get_position=["cell_lon", "cell_lat"],
                get_fill_color="color",
                get_radius=HEAT_CELL_RADIUS_M,
                pickable=True,
            )
        )
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            data.positions(),
            get_position=["lon", "lat"],
            get_fill_color=[30, 60, 200],
            radius_min_pixels=4,
            pickable=True,
        )
    )
    view = pdk.ViewState(latitude=41.55, longitude=-72.5, zoom=6.3)
    # No base map: tiles come from other hosts (none offline, and a local tool should not call out);
    # the route draws the geography. The blank style is served by this app (dashboard/static/).
    deck = pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=BLANK_STYLE)
    st.pydeck_chart(deck)


def vega_chart(where, frame: pd.DataFrame, mark: str, x: dict, y: dict, color: dict | None = None) -> None:
    """A Vega-Lite spec written out: st.line_chart and st.bar_chart build theirs through Altair, which
    takes longer per refresh than the queries behind the panels."""
    encoding = {"x": x, "y": y} | ({"color": color} if color else {})
    where.vega_lite_chart(frame, {"mark": {"type": mark, "tooltip": True}, "encoding": encoding}, width="stretch")


HOUR = {"field": "hour_start", "type": "temporal", "title": "hour (UTC)"}


def history_panels() -> None:
    speed = data.speed_over_time()
    if speed is None:
        st.info("The marts are not built yet: `make stream` rebuilds them every minute (or run `dbt build`).")
        return
    as_of = data.marts_as_of()
    if as_of is not None:
        st.caption(f"Charts below: marts built from the data landed up to {as_of:%Y-%m-%d %H:%M:%S} UTC")
    left, right = st.columns(2)
    left.subheader("Speed per hour (km/h): average and 95th percentile")
    speed = speed.melt("hour_start", ["avg_speed_kmh", "p95_speed_kmh"], "measure", "km/h")
    kmh = {"field": "km/h", "type": "quantitative"}
    vega_chart(left, speed, "line", HOUR, kmh, {"field": "measure", "type": "nominal"})
    right.subheader("Average speed per route segment, last hour (km/h)")
    segment = {"field": "segment_start_km", "type": "ordinal", "title": "segment start (km from Boston)"}
    vega_chart(right, data.segments_last_hour(), "bar", segment, {"field": "avg_speed_kmh", "type": "quantitative"})
    incidents = data.incidents_over_time()
    incidents["type_and_status"] = incidents["incident_type"] + ", " + incidents["incident_status"]
    left, right = st.columns(2)
    left.subheader("Incident events per hour, by type and status")
    hour_bar = HOUR | {"type": "ordinal", "timeUnit": "utcyearmonthdatehours"}  # one bar per hour
    events = {"field": "incident_events", "type": "quantitative", "aggregate": "sum", "title": "events"}
    vega_chart(left, incidents, "bar", hour_bar, events, {"field": "type_and_status", "type": "nominal"})
    right.subheader("Temperature by region (°C)")
    celsius = {"field": "avg_temperature_c", "type": "quantitative", "title": "°C"}
    vega_chart(right, data.weather(), "line", HOUR, celsius, {"field": "region", "type": "nominal"})


def health_panels() -> None:
    left, right = st.columns(2)
    left.subheader("Pipeline health (latest batch per stream)")
    left.table(data.pipeline_health(), hide_index=True)
    right.subheader("Quarantine by reason")
    right.table(data.quarantine_reasons(), hide_index=True)


@st.fragment(run_every=REFRESH_S if live else None)
def page() -> None:
    if not data.has_data():
        st.info("No data yet: run `make stream`.")
        return
    kpi_panel()
    map_panel()
    history_panels()
    health_panels()


page()
