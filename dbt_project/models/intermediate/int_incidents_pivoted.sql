-- One row per incident: its 'active' and 'resolved' events side by side. Where an incident's events
-- disagree on what it is or where (a corrected report), the first report holds: the earliest event,
-- then the first landed.
with

events as (

    select * from {{ ref('stg_smartcity__incident_events') }}

),

opened as (

    select
        incident_id,
        min(event_time) as opened_at
    from events
    where incident_status = 'active'
    group by incident_id

),

resolved as (

    select
        incident_id,
        max(event_time) as resolved_at
    from events
    where incident_status = 'resolved'
    group by incident_id

),

reports as (

    select
        incident_id,
        incident_type,
        severity,
        reported_by_vehicle_id,
        lat,
        lon,
        route_km,
        row_number() over (partition by incident_id order by event_time, ingested_at, event_id) as report_number
    from events

),

details as (

    select
        incident_id,
        incident_type,
        severity,
        reported_by_vehicle_id,
        lat,
        lon,
        route_km
    from reports
    where report_number = 1

)

select
    details.incident_id,
    details.incident_type,
    details.severity,
    details.reported_by_vehicle_id,
    details.lat,
    details.lon,
    details.route_km,
    opened.opened_at,
    resolved.resolved_at,
    case when resolved.resolved_at is null then 'active' else 'resolved' end as incident_status,
    {{ seconds_between('opened.opened_at', 'resolved.resolved_at') }} / 60.0 as duration_minutes
from details
left join opened on details.incident_id = opened.incident_id
left join resolved on details.incident_id = resolved.incident_id
