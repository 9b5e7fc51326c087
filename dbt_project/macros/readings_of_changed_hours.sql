{#-
    The readings an incremental hourly mart recomputes: on an incremental run, every reading of the
    hours that received readings since the previous run (however old those hours are), so a late
    reading lands in its own hour; on a full build, all of them.
-#}
{% macro readings_of_changed_hours(readings) %}
    select * from {{ readings }}
    {% if smartcity_is_incremental() %}
        where hour_start in (
            select landed.hour_start from {{ readings }} as landed
            where landed.ingested_at >= (
                select {{ dbt.dateadd('minute', -1 * var('ingest_lookback_minutes'), 'max(last_ingested_at)') }}
                from {{ this }}
            )
        )
    {% endif %}
{% endmacro %}
