with

source as (

    select * from {{ ref('base_smartcity__weather') }}

),

renamed as (

    select
        event_id,
        vehicle_id,
        {{ utc_timestamp('event_time') }} as event_time,
        lat,
        lon,
        region,
        temperature_c,
        condition as weather_condition,
        precipitation_mm,
        wind_speed_kmh,
        humidity_pct,
        air_quality_index,
        schema_version,
        kafka_partition,
        kafka_offset,
        {{ utc_timestamp('ingested_at') }} as ingested_at,
        event_date,
        event_hour,
        {{ is_on_route('lat', 'lon') }} as is_on_route
    from source

)

{{ first_copy_per_event('renamed') }}
