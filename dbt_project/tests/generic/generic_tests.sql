{#- The project's generic tests, written here so the project needs no packages (`dbt deps` is never run). -#}

{% test value_between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    {% if min_value is not none %}{{ column_name }} < {{ min_value }}{% else %}false{% endif %}
    or {% if max_value is not none %}{{ column_name }} > {{ max_value }}{% else %}false{% endif %}
  )
{% endtest %}

{% test unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test not_after(model, column_name, other_column) %}
select {{ column_name }}, {{ other_column }}
from {{ model }}
where {{ column_name }} > {{ other_column }}
{% endtest %}

{#- Rows that break any rule of the event contract: a required field null, a value out of its
    range or not one of its values, a field set in an event of a version older than the field.
    Generated onto each source from contract/events.py. -#}
{% test matches_contract(model, not_null=[], ranges={}, accepted_values={}, since_version={}) %}
select *
from {{ lake_source(model) }}
where false
    {%- for column in not_null %}
    or {{ column }} is null
    {%- endfor %}
    {%- for column, bounds in ranges.items() %}
    {%- if bounds[0] is not none %}
    or {{ column }} < {{ bounds[0] }}
    {%- endif %}
    {%- if bounds[1] is not none %}
    or {{ column }} > {{ bounds[1] }}
    {%- endif %}
    {%- endfor %}
    {%- for column, values in accepted_values.items() %}
    or {{ column }} not in ({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endfor %}
    {%- for column, version in since_version.items() %}
    or (schema_version < {{ version }} and {{ column }} is not null)
    {%- endfor %}
{% endtest %}
