-- The speed mart accounts for every de-duplicated telemetry reading, no more, no less, up to the
-- newest landing it was built from: while the stream runs, staging (a view over the lake) already
-- holds readings that landed after the mart was built.
with mart as (
    select
        sum(readings) as readings,
        max(last_ingested_at) as built_up_to
    from {{ ref('fct_vehicle_speed_hourly') }}
),

staged as (
    select count(*) as readings
    from {{ ref('stg_smartcity__vehicle_readings') }}
    where ingested_at <= (select mart.built_up_to from mart)
)

select
    mart.readings as mart_readings,
    staged.readings as staged_readings
from mart cross join staged
where mart.readings != staged.readings
