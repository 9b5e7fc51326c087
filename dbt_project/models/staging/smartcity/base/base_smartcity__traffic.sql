-- The traffic raw table as the lake holds it, every landed copy of every event: what staging
-- de-duplicates, and where the incremental models find the arrivals (int_lake_arrivals_unioned).
select
    {{ smartcity_source_columns('traffic') }}
from {{ lake_source(source('smartcity', 'traffic')) }}
