{{ config(severity='warn') }}
-- A resolution whose opening event never reached the lake (e.g. it was quarantined as malformed):
-- a data-quality signal to look at lake/quarantine/emergency, not a pipeline failure.
select
    incident_id,
    resolved_at
from {{ ref('fct_incidents') }}
where resolved_at is not null and opened_at is null
