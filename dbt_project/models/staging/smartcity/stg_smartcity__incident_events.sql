with

source as (

    select * from {{ ref('base_smartcity__emergency') }}

),

renamed as (

    select
        event_id,
        incident_id,
        vehicle_id as reported_by_vehicle_id,
        {{ utc_timestamp('event_time') }} as event_time,
        incident_type,
        status as incident_status,
        severity,
        lat,
        lon,
        route_km,
        description,
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
