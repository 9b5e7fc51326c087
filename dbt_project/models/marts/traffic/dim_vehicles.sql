-- One row per vehicle: what it is, how far it got, and what its newer sensors say.
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
        max(route_km) as max_route_km,
        max(schema_version) as schema_version,
        max(engine_temp_c) as max_engine_temp_c
    from {{ ref('int_vehicle_readings_segmented') }}
    group by vehicle_id

),

-- The newest odometer reading: version 2 devices only (null for a vehicle still on version 1).
odometer_readings as (

    select
        vehicle_id,
        odometer_km,
        event_time,
        row_number() over (partition by vehicle_id order by event_time desc, event_id desc) as newest_first
    from {{ ref('int_vehicle_readings_segmented') }}
    where odometer_km is not null

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
    readings.max_route_km,
    readings.schema_version,
    odometer_readings.odometer_km as latest_odometer_km,
    odometer_readings.event_time as latest_odometer_at,
    readings.max_engine_temp_c
from readings
left join types on readings.vehicle_id = types.vehicle_id
left join odometer_readings
    on
        readings.vehicle_id = odometer_readings.vehicle_id
        and odometer_readings.newest_first = 1
