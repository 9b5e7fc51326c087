{#- The incremental filter of the models that copy staged events into tables (append only).

    Reads only the lake partitions of the last `late_data_lookback_hours` of event time, so the
    staging de-duplication runs over those files alone (the partition filter reaches the scan
    through the window, see first_copy_per_event). Within them it takes the events that landed
    since the newest one already copied, looking `ingest_lookback_minutes` further back because
    the files of one micro-batch become visible one by one, and skips those already copied.
    Staging keeps the first landed copy of each event, so a later copy of an event already
    copied never shows up. Events later than the lookback wait for a --full-refresh.

    The bounds are read from the table first and written into the SQL as literals: partition
    pruning needs constants. With lake_partitions=false (reading a table, not the lake) only
    the landing-time bounds apply. -#}
{% macro new_arrivals(column='ingested_at', key='event_id', lake_partitions=true) %}
    {%- if is_incremental() and execute %}
        {%- if var('offline_compile', false) %}
            {#- no warehouse to ask: any bounds render the same SQL -#}
            {%- set bounds = [modules.datetime.datetime(2026, 1, 1), modules.datetime.datetime(2026, 1, 1)] %}
        {%- else %}
            {%- set bounds = run_query("select max(" ~ column ~ "), max(event_time) from " ~ this).rows[0] %}
        {%- endif %}
        {%- if bounds[0] is not none %}
            {%- set since = bounds[0] - modules.datetime.timedelta(minutes=var('ingest_lookback_minutes')) %}
            {%- set first_hour = bounds[1] - modules.datetime.timedelta(hours=var('late_data_lookback_hours')) %}
            {%- set day = first_hour.strftime('%Y-%m-%d') %}
    where {{ column }} >= {{ timestamp_literal(since) }}
            {%- if lake_partitions %}
        and event_date >= cast('{{ day }}' as date)
        and (event_date > cast('{{ day }}' as date) or event_hour >= {{ first_hour.hour }})
            {%- endif %}
        and {{ key }} not in (
            select {{ key }} from {{ this }} where {{ column }} >= {{ timestamp_literal(since) }}
        )
        {%- endif %}
    {%- endif %}
{% endmacro %}

{%- macro timestamp_literal(value) -%}
    cast('{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
