-- Activity on a lat/lon grid along the route (cell size: var grid_cell_deg).
with

positions as (

    select
        {{ grid_cell('lat') }} as cell_lat,
        {{ grid_cell('lon') }} as cell_lon,
        vehicle_id,
        speed_kmh
    from {{ ref('int_vehicle_readings_segmented') }}
    where is_on_route

),

incidents as (

    select
        {{ grid_cell('lat') }} as cell_lat,
        {{ grid_cell('lon') }} as cell_lon,
        count(*) as incidents
    from {{ ref('int_incidents_pivoted') }}
    group by {{ grid_cell('lat') }}, {{ grid_cell('lon') }}

),

cells as (

    select
        cell_lat,
        cell_lon,
        count(*) as position_events,
        count(distinct vehicle_id) as distinct_vehicles,
        avg(speed_kmh) as avg_speed_kmh
    from positions
    group by cell_lat, cell_lon

)

select
    cells.cell_lat,
    cells.cell_lon,
    cells.position_events,
    cells.distinct_vehicles,
    cells.avg_speed_kmh,
    coalesce(incidents.incidents, 0) as incidents
from cells
left join incidents
    on cells.cell_lat = incidents.cell_lat and cells.cell_lon = incidents.cell_lon
