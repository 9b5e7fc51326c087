{{ config_appended_copy() }}

-- GPS fixes, de-duplicated once: a table copied incrementally from staging (macro new_arrivals), so
-- the marts over millions of fixes read it instead of re-running the staging de-duplication. Columns
-- a newer contract version adds are appended to the table (null in the rows copied before).
select
    event_id,
    vehicle_id,
    vehicle_type,
    event_time,
    lat,
    lon,
    speed_kmh,
    satellite_count,
    is_on_route,
    ingested_at
from {{ ref('stg_smartcity__gps_fixes') }}
{{ new_arrivals(ref('int_lake_arrivals_unioned'), 'gps') }}
