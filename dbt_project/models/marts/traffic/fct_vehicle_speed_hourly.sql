{{ config_recomputed_hours(unique_key=['vehicle_id', 'hour_start', 'segment_id']) }}

-- Speed per vehicle, hour and route segment. Incremental: each run recomputes exactly the hours
-- that received readings since the previous run, however old they are, so a late reading lands
-- in its own hour and no event time can hold the increments back.
with

readings as (

    {{ readings_of_changed_hours(ref('int_vehicle_readings_segmented')) }}

)

select
    vehicle_id,
    hour_start,
    segment_id,
    cast(segment_id * {{ var('segment_km') }} as {{ type_double() }}) as segment_start_km,
    count(*) as readings,
    avg(speed_kmh) as avg_speed_kmh,
    {{ percentile('speed_kmh', 0.5) }} as p50_speed_kmh,
    {{ percentile('speed_kmh', 0.95) }} as p95_speed_kmh,
    max(event_time) as last_event_time,
    max(ingested_at) as last_ingested_at
from readings
group by vehicle_id, hour_start, segment_id
