-- Incident events per hour, type and lifecycle status.
select
    {{ dbt.date_trunc('hour', 'event_time') }} as hour_start,
    incident_type,
    incident_status,
    count(*) as incident_events,
    count(distinct incident_id) as incidents
from {{ ref('stg_smartcity__incident_events') }}
group by 1, 2, 3
