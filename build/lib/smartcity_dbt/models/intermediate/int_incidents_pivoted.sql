-- One row per incident: its 'active' and 'resolved' events side by side.
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

details as (

    select
        incident_id,
        max(incident_type) as incident_type,
        max(severity) as severity,
        max(reported_by_vehicle_id) as reported_by_vehicle_id,
        max(lat) as lat,
        max(lon) as lon,
        max(route_km) as route_km
    from events
    group by incident_id

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
