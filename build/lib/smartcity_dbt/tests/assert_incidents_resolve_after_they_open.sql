-- No incident resolves before it opens.
select
    incident_id,
    opened_at,
    resolved_at
from {{ ref('fct_incidents') }}
where resolved_at < opened_at
