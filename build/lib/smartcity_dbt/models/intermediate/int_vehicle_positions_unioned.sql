{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail'
    )
}}

-- Every position a vehicle reported, from its telemetry and from its GPS receiver.
{%- set position_columns = ['event_id', 'vehicle_id', 'event_time', 'lat', 'lon', 'speed_kmh', 'is_on_route'] %}

with

readings as (

    select
        {{ position_columns | join(',\n        ') }},
        'telemetry' as position_source,
        cast(null as {{ dbt.type_string() }}) as vehicle_type,
        ingested_at
    -- Telemetry from its own incremental copy: the staging de-duplication runs once per stream.
    from {{ ref('int_vehicle_readings_segmented') }}
    {{ new_arrivals() }}

),

fixes as (

    select
        {{ position_columns | join(',\n        ') }},
        'gps' as position_source,
        vehicle_type,
        ingested_at
    from {{ ref('stg_smartcity__gps_fixes') }}
    {{ new_arrivals(ref('stg_smartcity__lake_arrivals'), 'gps') }}

)

select * from readings
union all
select * from fixes
