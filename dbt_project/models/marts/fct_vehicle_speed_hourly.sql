{{
    config(
        materialized='incremental',
        unique_key=['vehicle_id', 'hour_start', 'segment_id'],
        incremental_strategy=('merge' if target.type == 'athena' else 'delete+insert'),
        table_type=('iceberg' if target.type == 'athena' else none),
        on_schema_change='fail'
    )
}}

-- Speed per vehicle, hour and route segment. Incremental: each run recomputes the last
-- few hours (var late_data_lookback_hours), so an event that arrives late still lands in its hour.
with

readings as (

    select * from {{ ref('int_vehicle_readings_segmented') }}
    {% if is_incremental() %}
        where hour_start >= (
            select {{ dbt.dateadd('hour', -1 * var('late_data_lookback_hours'), 'max(hour_start)') }}
            from {{ this }}
        )
    {% endif %}

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
    max(event_time) as last_event_time
from readings
group by vehicle_id, hour_start, segment_id
