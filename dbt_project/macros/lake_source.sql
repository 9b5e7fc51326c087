{#- A raw table of the lake. On DuckDB each source is the view of its Iceberg table's current
    snapshot (lakehouse/dbt_duckdb.py), an empty relation with the table's columns while its
    stream has landed nothing: a stream with no events yet (rare incidents) is a normal state,
    and its staging and marts build empty. Warehouses read the Iceberg table itself.
    Usage, in staging only: `{{ lake_source(source('smartcity', 'emergency')) }}`. -#}
{% macro lake_source(relation) %}{{ relation }}{% endmacro %}

{#- True when a stream's raw table holds at least one row (DuckDB). -#}
{% macro smartcity_stream_has_data(stream) %}
    {%- set found = run_query("select count(*) from (select 1 from " ~ smartcity_raw_view(stream) ~ " limit 1)") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{% endmacro %}

{#- The columns of a raw table, from the generated sources YAML (the contract), one per line: a base
    model lists them instead of `select *`. -#}
{% macro smartcity_source_columns(stream) %}
    {%- set node = (graph.get('sources') or {}).get('source.smartcity.smartcity.' ~ stream) if execute else none -%}
    {%- if node is none -%}
        *
    {%- else -%}
        {{ node.columns.keys() | join(',\n    ') }}
    {%- endif -%}
{% endmacro %}
