-- The speed mart accounts for every de-duplicated telemetry reading, no more, no less.
with mart as (
    select sum(readings) as readings from {{ ref('fct_vehicle_speed_hourly') }}
),

staged as (
    select count(*) as readings from {{ ref('stg_smartcity__vehicle_readings') }}
)

select
    mart.readings as mart_readings,
    staged.readings as staged_readings
from mart cross join staged
where mart.readings != staged.readings
