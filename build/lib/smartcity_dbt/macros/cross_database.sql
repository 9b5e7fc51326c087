{#- Cross-warehouse SQL: dbt's own macros where they exist (dbt.date_trunc, dbt.dateadd,
    dbt.datediff, dbt.cast), adapter.dispatch where they do not. -#}

{#- A timestamp column as a plain UTC timestamp (no time zone), the same on every warehouse. -#}
{% macro utc_timestamp(column) %}{{ return(adapter.dispatch('utc_timestamp', 'smartcity')(column)) }}{% endmacro %}
{% macro default__utc_timestamp(column) %}cast({{ column }} as timestamp){% endmacro %}
{#- DuckDB reads the Parquet instants as timestamptz; timezone('UTC', ...) keeps the UTC wall time
    whatever the session's time zone is (a plain cast would shift to the laptop's zone). -#}
{% macro duckdb__utc_timestamp(column) %}timezone('UTC', {{ column }}){% endmacro %}

{#- Continuous percentile as an aggregate. -#}
{% macro percentile(expression, fraction) %}{{ return(adapter.dispatch('percentile', 'smartcity')(expression, fraction)) }}{% endmacro %}
{% macro default__percentile(expression, fraction) %}percentile_cont({{ fraction }}) within group (order by {{ expression }}){% endmacro %}
{% macro duckdb__percentile(expression, fraction) %}quantile_cont({{ expression }}, {{ fraction }}){% endmacro %}
{% macro athena__percentile(expression, fraction) %}approx_percentile({{ expression }}, {{ fraction }}){% endmacro %}

{#- Seconds between two timestamps, fractional. -#}
{% macro seconds_between(start, stop) %}{{ return(adapter.dispatch('seconds_between', 'smartcity')(start, stop)) }}{% endmacro %}
{% macro default__seconds_between(start, stop) %}{{ dbt.datediff(start, stop, 'second') }}{% endmacro %}
{% macro duckdb__seconds_between(start, stop) %}(epoch({{ stop }}) - epoch({{ start }})){% endmacro %}

{#- Lower-left corner of the lat/lon grid cell a point falls in: portable, no H3 or other extension. -#}
{% macro grid_cell(coordinate, cell_deg=none) %}
  {%- set size = cell_deg if cell_deg is not none else var('grid_cell_deg') -%}
  round(floor({{ coordinate }} / {{ size }}) * {{ size }}, 6)
{%- endmacro %}

{#- True when a position lies inside the route's bounding box (see dbt_project.yml vars). -#}
{% macro is_on_route(lat, lon) %}
  ({{ lat }} between {{ var('route_min_lat') }} and {{ var('route_max_lat') }}
   and {{ lon }} between {{ var('route_min_lon') }} and {{ var('route_max_lon') }})
{%- endmacro %}

{#- 8-byte float: 'double' on DuckDB and Athena, 'double precision' on Redshift/Postgres. -#}
{% macro type_double() %}{{ return(adapter.dispatch('type_double', 'smartcity')()) }}{% endmacro %}
{% macro default__type_double() %}double precision{% endmacro %}
{% macro duckdb__type_double() %}double{% endmacro %}
{% macro athena__type_double() %}double{% endmacro %}
