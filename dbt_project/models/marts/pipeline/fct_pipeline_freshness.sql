-- Entries per raw table after de-duplication, and how fresh each one is. The two big streams
-- are counted in their incremental copies, the others in staging.
{% set tables = [
    ('vehicle', 'int_vehicle_readings_segmented', none),
    ('gps', 'int_gps_fixes_deduplicated', none),
    ('traffic', 'stg_smartcity__camera_sightings', none),
    ('weather', 'stg_smartcity__weather_observations', none),
    ('emergency', 'stg_smartcity__incident_events', none),
] %}

with

counts as (
    {% for raw_table, model, condition in tables %}
        select
            '{{ raw_table }}' as raw_table,
            count(*) as entries,
            cast(sum(case when is_on_route then 0 else 1 end) as bigint) as off_route_entries,
            max(event_time) as latest_event_time,
            max(ingested_at) as latest_ingested_at
        from {{ ref(model) }}
        {% if condition %}where {{ condition }}{% endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    raw_table,
    entries,
    off_route_entries,
    latest_event_time,
    latest_ingested_at,
    {{ seconds_between('latest_ingested_at', utc_timestamp(dbt.current_timestamp())) }} as seconds_since_last_ingest
from counts
