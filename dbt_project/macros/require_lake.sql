{#- On DuckDB the sources read the lake's Parquet files directly: stop with one clear
    message, instead of a DuckDB stack trace, when a stream has not landed anything yet. -#}
{% macro smartcity_require_lake() %}
  {% if execute and target.type == 'duckdb' and flags.WHICH in ('run', 'build', 'test', 'seed', 'snapshot') %}
    {% set lake = env_var('SMARTCITY_LAKE_ROOT', '../data/lake') %}
    {% set missing = [] %}
    {% for stream in ['vehicle', 'gps', 'traffic', 'weather', 'emergency'] %}
      {% set found = run_query("select count(*) from glob('" ~ lake ~ "/raw/" ~ stream ~ "/*/*/*.parquet')") %}
      {% if found.columns[0].values()[0] == 0 %}{% do missing.append(stream) %}{% endif %}
    {% endfor %}
    {% if missing %}
      {{ exceptions.raise_compiler_error(
          "The lake at " ~ lake ~ " has no data yet for: " ~ missing | join(', ')
          ~ ". Run the stream first (`make stream`, or `smartcity simulate` then `smartcity stream --available-now`)"
          ~ " or point SMARTCITY_LAKE_ROOT at a lake.") }}
    {% endif %}
  {% endif %}
{% endmacro %}
