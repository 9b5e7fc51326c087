with

source as (

    select * from {{ source('smartcity', 'vehicle') }}

),

ranked as (

    select
        event_id,
        vehicle_id,
        {{ utc_timestamp('event_time') }} as event_time,
        lat,
        lon,
        route_km,
        speed_kmh,
        heading_deg,
        fuel_level_pct,
        make,
        model,
        model_year,
        fuel_type,
        schema_version,
        kafka_partition,
        kafka_offset,
        {{ utc_timestamp('ingested_at') }} as ingested_at,
        row_number() over (partition by event_id order by ingested_at, kafka_offset) as copy_number
    from source

)

select
    event_id,
    vehicle_id,
    event_time,
    lat,
    lon,
    route_km,
    speed_kmh,
    heading_deg,
    fuel_level_pct,
    make,
    model,
    model_year,
    fuel_type,
    schema_version,
    kafka_partition,
    kafka_offset,
    ingested_at,
    {{ is_on_route('lat', 'lon') }} as is_on_route
from ranked
where copy_number = 1
