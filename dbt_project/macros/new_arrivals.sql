{#- The incremental filter of the models that copy staged events into tables (append only):
    the events that landed since the newest one already copied, minus those already copied.

    It looks `ingest_lookback_minutes` further back than that newest landing time, because the
    files of one micro-batch become visible one by one. Staging keeps the first landed copy of each
    event, so a later copy of an event already copied never shows up.

    Driven by arrival, not by event time: with `arrivals` (the int_lake_arrivals_unioned
    relation) and `stream`, it first asks which lake partitions (event_date, event_hour) received
    rows since then, and reads only those, whatever their age: a vehicle that uploads hours of
    buffered readings lands them in their own hours on the next run, and no event time (however
    wrong) can hold the increments back. The partitions are written into the SQL as literals:
    partition pruning needs constants. -#}
{% macro new_arrivals(arrivals=none, stream=none, column='ingested_at', key='event_id') %}
    {%- if smartcity_is_incremental() and execute %}
        {%- if var('offline_compile', false) %}
            {#- no warehouse to ask: any bound renders the same SQL -#}
            {%- set newest = modules.datetime.datetime(2026, 1, 1) %}
        {%- else %}
            {%- set newest = run_query("select max(" ~ column ~ ") from " ~ this).rows[0][0] %}
        {%- endif %}
        {%- if newest is not none %}
            {%- set since = newest - modules.datetime.timedelta(minutes=var('ingest_lookback_minutes')) %}
    where {{ column }} >= {{ timestamp_literal(since) }}
            {%- if arrivals is not none %}
        and {{ arrived_partitions(arrivals, stream, since) }}
            {%- endif %}
        and {{ key }} not in (
            select {{ key }} from {{ this }} where {{ column }} >= {{ timestamp_literal(since) }}
        )
        {%- endif %}
    {%- endif %}
{% endmacro %}

{#- `(event_date = ... and event_hour in (...)) or ...` for the partitions of `stream` that received
    rows at or after `since`; `1 = 0` when none did. -#}
{% macro arrived_partitions(arrivals, stream, since) %}
    {%- if var('offline_compile', false) -%}
        {%- set rows = [[modules.datetime.date(2026, 1, 1), 0]] -%}
    {%- else -%}
        {%- set rows = run_query(
            "select distinct event_date, event_hour from " ~ arrivals
            ~ " where raw_table = '" ~ stream ~ "' and ingested_at >= " ~ utc_instant_literal(since)
            ~ " order by event_date, event_hour").rows -%}
    {%- endif -%}
    {%- set hours = {} -%}
    {%- for row in rows -%}
        {%- do hours.setdefault(row[0] | string, []).append(row[1] | int) -%}
    {%- endfor -%}
    {%- if hours -%}
        ({% for day, day_hours in hours.items() %}(event_date = cast('{{ day }}' as date) and event_hour in ({{ day_hours | join(', ') }})){{ ' or ' if not loop.last }}{% endfor %})
    {%- else -%}
        1 = 0
    {%- endif -%}
{% endmacro %}

{%- macro timestamp_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- A UTC instant comparable with a raw timestamp column as the lake's tables type it. -#}
{% macro utc_instant_literal(value) %}{{ return(adapter.dispatch('utc_instant_literal', 'smartcity')(value)) }}{% endmacro %}
{% macro default__utc_instant_literal(value) %}{{ timestamp_literal(value) }}{% endmacro %}
{#- DuckDB reads the Parquet instants as timestamptz: an explicit offset, or the session's zone applies. -#}
{% macro duckdb__utc_instant_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}+00:00' as timestamptz)
{%- endmacro %}
