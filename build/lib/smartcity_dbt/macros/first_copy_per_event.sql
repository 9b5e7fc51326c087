{#- The lake is at-least-once under failures and producer retries: keep the first landed copy of
    each event_id (earliest ingested_at, then Kafka coordinates). Used as the last step of a
    staging model: `{{ first_copy_per_event('renamed') }}` after the model's CTEs.
    Copies of an event share its event time, hence its lake partition (event_date, event_hour):
    ranking within the partition is the same ranking, and lets a filter on the partition
    columns prune the files read beneath the window (see macro new_arrivals). -#}
{% macro first_copy_per_event(relation) %}
    {{ return(adapter.dispatch('first_copy_per_event', 'smartcity')(relation)) }}
{% endmacro %}

{#- DuckDB and Redshift filter on a window function directly: one pass, no join. -#}
{% macro duckdb__first_copy_per_event(relation) %}
select *
from {{ relation }}
qualify row_number() over (partition by event_date, event_hour, event_id order by ingested_at, kafka_partition, kafka_offset) = 1
{% endmacro %}

{% macro redshift__first_copy_per_event(relation) %}
    {{ return(duckdb__first_copy_per_event(relation)) }}
{% endmacro %}

{#- Elsewhere (Athena/Trino has no QUALIFY): rank the copies, join the first back on its Kafka
    coordinates, so the caller's columns are still listed once. -#}
{% macro default__first_copy_per_event(relation) %}
, ranked_copies as (

    select
        event_id,
        kafka_partition,
        kafka_offset,
        row_number() over (partition by event_date, event_hour, event_id order by ingested_at, kafka_partition, kafka_offset) as copy_number
    from {{ relation }}

)

select {{ relation }}.*
from {{ relation }}
inner join ranked_copies
    on {{ relation }}.event_id = ranked_copies.event_id
    and {{ relation }}.kafka_partition = ranked_copies.kafka_partition
    and {{ relation }}.kafka_offset = ranked_copies.kafka_offset
where ranked_copies.copy_number = 1
{% endmacro %}
