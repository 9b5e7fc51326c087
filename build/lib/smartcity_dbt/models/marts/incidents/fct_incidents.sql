-- One row per emergency incident, with how long it took to resolve.
select
    incident_id,
    incident_type,
    severity,
    reported_by_vehicle_id,
    lat,
    lon,
    route_km,
    opened_at,
    resolved_at,
    incident_status,
    duration_minutes
from {{ ref('int_incidents_pivoted') }}
