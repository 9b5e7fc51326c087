-- Telemetry placed on a stretch of road (fixed-length segments of distance along the route) and an hour.
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
    is_on_route
from {{ ref('stg_smartcity__vehicle_readings') }}
