-- When and in which lake partition every raw event landed, all streams, copies included: how the
-- incremental models find the hours that received rows since their last run (macro new_arrivals),
-- whatever the age of those hours. Read from the base models (no de-duplication, no conversion of
-- ingested_at), so a filter on raw_table and ingested_at reaches the Parquet scan (one branch,
-- row-group statistics).
{% for raw_table in smartcity_streams() %}
    select
        '{{ raw_table }}' as raw_table,
        event_date,
        event_hour,
        ingested_at
    from {{ ref('base_smartcity__' ~ raw_table) }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
