{#- The lake is at-least-once under producer retries: keep the first landed copy of each event_id.
    A copy is identified by its Kafka coordinates, so the columns are listed once, in the caller. -#}
{% macro first_copy_per_event(relation) %}
, ranked_copies as (

    select
        event_id,
        kafka_partition,
        kafka_offset,
        row_number() over (partition by event_id order by ingested_at, kafka_partition, kafka_offset) as copy_number
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
