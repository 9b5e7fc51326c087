-- One row per roadside camera, with how many vehicles it saw.
select
    camera_id,
    max(lat) as lat,
    max(lon) as lon,
    max(route_km) as route_km,
    count(*) as sightings,
    count(distinct vehicle_id) as distinct_vehicles,
    avg(speed_kmh) as avg_speed_kmh,
    min(event_time) as first_sighting_at,
    max(event_time) as last_sighting_at
from {{ ref('stg_smartcity__camera_sightings') }}
group by camera_id
