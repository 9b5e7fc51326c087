-- One row per vehicle: what it is and how far it got.
with

readings as (

    select
        vehicle_id,
        max(make) as make,
        max(model) as model,
        max(model_year) as model_year,
        max(fuel_type) as fuel_type,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        max(route_km) as max_route_km
    from {{ ref('int_vehicle_readings_segmented') }}
    group by vehicle_id

),

types as (

    select
        vehicle_id,
        max(vehicle_type) as vehicle_type
    from {{ ref('int_gps_fixes_deduplicated') }}
    group by vehicle_id

)

select
    readings.vehicle_id,
    readings.make,
    readings.model,
    readings.model_year,
    readings.fuel_type,
    types.vehicle_type,
    readings.first_seen_at,
    readings.last_seen_at,
    readings.max_route_km
from readings
left join types on readings.vehicle_id = types.vehicle_id
