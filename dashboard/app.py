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
    cols[6].metric("Newest data landed", "n/a" if k.freshness_s is None else f"{k.freshness_s:.0f} s ago")


def map_panel() -> None:
    route = pd.DataFrame({"path": [[[lon, lat] for lat, lon in Route().waypoints]]})
    positions = data.positions()
    heat = data.heatmap()
    layers = [
        pdk.Layer("PathLayer", route, get_path="path", get_color=[90, 90, 90], width_min_pixels=3),
        pdk.Layer(
            "ScatterplotLayer",
            positions,
            get_position=["lon", "lat"],
            get_fill_color=[200, 30, 30],
            radius_min_pixels=4,
            pickable=True,
        ),
    ]
    if heat is not None and len(heat):
        layers.insert(
            0,
            pdk.Layer(
                "HeatmapLayer", heat, get_position=["cell_lon", "cell_lat"], get_weight="position_events", opacity=0.6
            ),
        )
    view = pdk.ViewState(latitude=41.55, longitude=-72.5, zoom=6.3)
    # No base map: tiles come from other hosts (none offline, and a local tool should not call out);
    # the route draws the geography. The blank style is served by this app (dashboard/static/).
    deck = pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=BLANK_STYLE)
    st.pydeck_chart(deck)


def history_panels() -> None:
    speed = data.speed_over_time()
    if speed is None:
        st.info("The marts are not built yet: `make stream` rebuilds them every minute (or run `dbt build`).")
        return
    left, right = st.columns(2)
    left.subheader("Speed per hour (km/h): average and 95th percentile")
    left.line_chart(speed, x="hour_start", y=["avg_speed_kmh", "p95_speed_kmh"])
    right.subheader("Average speed per route segment, last hour (km/h)")
    right.bar_chart(data.segments_last_hour(), x="segment_start_km", y="avg_speed_kmh")
    incidents = data.incidents_over_time()
    incidents["type_and_status"] = incidents["incident_type"] + ", " + incidents["incident_status"]
    incidents["hour"] = incidents["hour_start"].dt.strftime("%m-%d %H:00")  # one bar per hour
    left, right = st.columns(2)
    left.subheader("Incident events per hour, by type and status")
    left.bar_chart(incidents, x="hour", y="incident_events", color="type_and_status")
    right.subheader("Temperature by region (°C)")
    right.line_chart(data.weather().sort_values("hour_start"), x="hour_start", y="avg_temperature_c", color="region")


def health_panels() -> None:
    left, right = st.columns(2)
    left.subheader("Pipeline health (latest batch per stream)")
    left.dataframe(data.pipeline_health(), hide_index=True, width="stretch")
    right.subheader("Quarantine by reason")
    right.dataframe(data.quarantine_reasons(), hide_index=True, width="stretch")


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
