{{ config_appended_copy() }}

-- Telemetry placed on a stretch of road (fixed-length segments of distance along the route) and
-- an hour. A table, copied incrementally from staging (macro new_arrivals): the marts over
-- millions of readings read it instead of re-running the staging de-duplication. Columns a newer
-- contract version adds are appended to the table (null in the rows copied before).
select
    event_id,
    vehicle_id,
    event_time,
    {{ dbt.date_trunc('hour', 'event_time') }} as hour_start,
    cast(floor(route_km / {{ var('segment_km') }}) as integer) as segment_id,
    route_km,
    speed_kmh,
    lat,
    lon,
    is_on_route,
    make,
    model,
    model_year,
    fuel_type,
    odometer_km,
    engine_temp_c,
    schema_version,
    ingested_at
from {{ ref('stg_smartcity__vehicle_readings') }}
{{ new_arrivals(ref('int_lake_arrivals_unioned'), 'vehicle') }}
