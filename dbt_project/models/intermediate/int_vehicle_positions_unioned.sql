-- Every position a vehicle reported, from its telemetry and from its GPS receiver.
with

readings as (

    select vehicle_id, event_time, lat, lon, speed_kmh, is_on_route, 'telemetry' as position_source
    from {{ ref('stg_smartcity__vehicle_readings') }}

),

fixes as (

    select vehicle_id, event_time, lat, lon, speed_kmh, is_on_route, 'gps' as position_source
    from {{ ref('stg_smartcity__gps_fixes') }}

)

select * from readings
union all
select * from fixes
