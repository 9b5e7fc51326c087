{#- GENERATED from contract/lake.py by `python -m contract.generate`: do not edit. -#}
{% macro smartcity_streams() %}{{ return(['vehicle', 'gps', 'traffic', 'weather', 'emergency']) }}{% endmacro %}

{% macro smartcity_raw_files(stream) %}{{ return(env_var('SMARTCITY_LAKE_ROOT', '../data/lake') ~ '/raw/' ~ stream ~ '/*/*/*.parquet') }}{% endmacro %}
