-- No incident resolves before it opens, and none resolves without having opened.
select incident_id, opened_at, resolved_at
from {{ ref('fct_incidents') }}
where resolved_at < opened_at
   or (resolved_at is not null and opened_at is null)
