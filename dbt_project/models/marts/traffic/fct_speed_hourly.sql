{{ config_recomputed_hours(unique_key='hour_start') }}

-- Speed of the whole fleet per UTC hour: percentiles over every reading of the hour, which the
-- per-vehicle and per-segment percentiles of fct_vehicle_speed_hourly cannot be combined into.
-- Incremental like it: each run recomputes the hours that received readings since the previous run.
with

readings as (

    {{ readings_of_changed_hours(ref('int_vehicle_readings_segmented')) }}

)

select
    hour_start,
    count(*) as readings,
    count(distinct vehicle_id) as vehicles,
    avg(speed_kmh) as avg_speed_kmh,
    {{ percentile('speed_kmh', 0.5) }} as p50_speed_kmh,
    {{ percentile('speed_kmh', 0.95) }} as p95_speed_kmh,
    max(ingested_at) as last_ingested_at
from readings
group by hour_start
