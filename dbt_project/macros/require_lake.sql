{#- On DuckDB: stop with one clear message, instead of empty marts that look like a broken
    pipeline, when the lake holds nothing at all. A stream that has not produced an event yet
    builds empty (macro lake_source). -#}
{% macro smartcity_require_lake() %}
  {% if execute and target.type == 'duckdb' and flags.WHICH in ('run', 'build', 'test', 'seed', 'snapshot') %}
    {% set streams = smartcity_streams() %}
    {% set missing = [] %}
    {% for stream in streams %}
      {% if not smartcity_stream_has_data(stream) %}{% do missing.append(stream) %}{% endif %}
    {% endfor %}
    {% if missing | length == streams | length %}
      {{ exceptions.raise_compiler_error(
          "The lake at " ~ env_var('SMARTCITY_LAKE_ROOT', '../data/lake') ~ " has no data yet for: " ~ missing | join(', ')
          ~ ". Run the stream first (`make stream`, or `smartcity simulate` then `smartcity stream --available-now`)"
          ~ " or point SMARTCITY_LAKE_ROOT at a lake.") }}
    {% endif %}
  {% endif %}
{% endmacro %}
