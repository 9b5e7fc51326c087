{#- A raw table of the lake, or, on DuckDB while its stream has not landed anything yet, an empty
    relation with the same columns and types (from the generated sources YAML, i.e. the contract).
    A stream with no events yet (rare incidents) is a normal state: its staging and marts build
    empty instead of failing. Warehouses with a catalog (Athena, Redshift Spectrum) already read an
    empty table as empty. Usage, in staging only: `{{ lake_source(source('smartcity', 'emergency')) }}`. -#}
{% macro lake_source(relation) %}
    {{ return(adapter.dispatch('lake_source', 'smartcity')(relation)) }}
{% endmacro %}

{% macro default__lake_source(relation) %}{{ relation }}{% endmacro %}

{% macro duckdb__lake_source(relation) %}
    {#- Unit tests hand in their fixture rows instead of a source: no such node, nothing to check. -#}
    {%- set node = (graph.get('sources') or {}).get('source.smartcity.smartcity.' ~ relation.identifier) if execute else none -%}
    {%- if node is none or smartcity_stream_has_data(relation.identifier) -%}
        {{ relation }}
    {%- else -%}
        {#- The Parquet files hold UTC instants, which DuckDB reads as timestamptz. -#}
        {%- set types = {'timestamp': 'timestamptz'} -%}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ types.get(column.data_type, column.data_type) }}) as {{ column.name }}{{ ',' if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- endif -%}
{% endmacro %}

{#- True when the lake folder of a stream holds at least one Parquet file (DuckDB, local lake). -#}
{% macro smartcity_stream_has_data(stream) %}
    {%- set found = run_query("select count(*) from glob('" ~ smartcity_raw_files(stream) ~ "')") -%}
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
