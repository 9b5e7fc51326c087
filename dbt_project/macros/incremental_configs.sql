{#-
    The two ways the project's incremental models keep up with the lake, each configured once.

    config_appended_copy: a table copied from staging, appending what arrived since the previous
    run (macro new_arrivals); the columns a newer contract version adds are appended to the table.

    config_recomputed_hours: an hourly mart whose runs recompute the hours that received rows
    (macro readings_of_changed_hours), replacing those hours by unique_key: a merge into an
    Iceberg table on Athena, delete+insert elsewhere; a change of its columns fails the run.
-#}
{% macro config_appended_copy() %}
    {{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns') }}
{% endmacro %}

{% macro config_recomputed_hours(unique_key) %}
    {{ config(
        materialized='incremental',
        unique_key=unique_key,
        incremental_strategy=('merge' if target.type == 'athena' else 'delete+insert'),
        table_type=('iceberg' if target.type == 'athena' else none),
        on_schema_change='fail'
    ) }}
{% endmacro %}
