{#- GENERATED from contract/lake.py by `python -m contract.generate`: do not edit. -#}
{% macro smartcity_streams() %}{{ return(['vehicle', 'gps', 'traffic', 'weather', 'emergency']) }}{% endmacro %}

{% macro smartcity_raw_view(stream) %}{{ return('smartcity_lake.' ~ stream) }}{% endmacro %}
