-- The speed mart accounts for every de-duplicated telemetry reading, no more, no less, up to the
-- newest landing it was built from: while the stream runs, staging (a view over the lake) already
-- holds readings that landed after the mart was built. The refresher of `smartcity up` checks the
-- hours that received readings since its previous build (macros/tests_window.sql).
{%- set window = smartcity_tests_window().partitions %}
{%- set hours = smartcity_window_hours(window, ['vehicle']) if window is not none else none %}
with built as (
    select max(last_ingested_at) as up_to
    from {{ ref('fct_vehicle_speed_hourly') }}
),

mart as (
    select sum(readings) as readings
    from {{ ref('fct_vehicle_speed_hourly') }}
    {%- if hours is not none %}
    where hour_start in ({{ hours | join(', ') if hours else 'null' }})
    {%- endif %}
),

staged as (
    select count(*) as readings
    from {{ ref('stg_smartcity__vehicle_readings') }}
    where ingested_at <= (select built.up_to from built)
    {%- if window is not none %}
        and {{ smartcity_window_filter(window, ['vehicle']) }}
    {%- endif %}
)

select
    mart.readings as mart_readings,
    staged.readings as staged_readings
from mart cross join staged
where coalesce(mart.readings, 0) != staged.readings
