-- Weather per region of the route and hour.
select
    region,
    {{ dbt.date_trunc('hour', 'event_time') }} as hour_start,
    count(*) as observations,
    avg(temperature_c) as avg_temperature_c,
    min(temperature_c) as min_temperature_c,
    max(temperature_c) as max_temperature_c,
    avg(precipitation_mm) as avg_precipitation_mm,
    avg(wind_speed_kmh) as avg_wind_speed_kmh,
    avg(humidity_pct) as avg_humidity_pct,
    avg(air_quality_index) as avg_air_quality_index,
    cast(sum(case when weather_condition in ('rain', 'snow') then 1 else 0 end) as bigint) as wet_observations
from {{ ref('stg_smartcity__weather_observations') }}
group by 1, 2
