{#- Data tests over what arrived since the refresher's previous build.

    The tests of the staging folder (the sources and the staging models) carry the `where`
    placeholder `__new_partitions__`, those of the intermediate folder `__new_arrivals__`
    (dbt_project.yml). The refresher of `smartcity up` writes the window to the JSON file named by
    SMARTCITY_TESTS_WINDOW: {"since": ISO-8601 UTC instant, "partitions": {stream: {event_date:
    [event_hour, ...]}}} (the lake partitions with a file written since). It is read when the tests
    run, not passed as vars: new vars each minute would make dbt parse the whole project again. `__new_partitions__` becomes a filter on the partition
    columns, which prunes the files read (staging de-duplicates within a partition, so the filter
    reaches the scan beneath it); `__new_arrivals__` a filter on ingested_at, which skips the row
    groups of the intermediate tables written before. Without the vars (dbt build by hand, CI) every
    row is tested; so is a model of the folder without ingested_at. This overrides dbt's own get_where_subquery, as dbt's documentation shows for
    templated `where` configs. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__new_partitions__' in where -%}
        {%- set window = smartcity_tests_window().partitions -%}
        {%- if window is none -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set where = where | replace('__new_partitions__', smartcity_window_filter(window, smartcity_streams_of(relation))) -%}
    {%- endif -%}
    {%- if where and '__new_arrivals__' in where -%}
        {%- set since = smartcity_tests_window().since -%}
        {%- if since is none -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {#- (a model without the column, e.g. one rebuilt whole each time, is tested whole) -#}
        {%- if 'ingested_at' not in adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set instant = modules.datetime.datetime.fromisoformat(since).replace(tzinfo=none) -%}
        {%- set where = where | replace('__new_arrivals__', 'ingested_at >= ' ~ timestamp_literal(instant)) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- The streams a relation of the staging folder holds rows of: a source is one stream; a model, the
    sources it selects from, through its base model. -#}
{% macro smartcity_streams_of(relation) %}
    {%- if relation.identifier in smartcity_streams() -%}
        {%- do return([relation.identifier]) -%}
    {%- endif -%}
    {%- set streams = [] -%}
    {%- set pending = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.alias == relation.identifier -%}
        {%- do pending.extend(node.depends_on.nodes) -%}
    {%- endfor -%}
    {#- (a breadth-first walk up to the sources: Jinja has no while, the chain is two models long) -#}
    {%- for _ in range(3) -%}
        {%- set parents = pending[:] -%}
        {%- do pending.clear() -%}
        {%- for parent in parents -%}
            {%- if parent.startswith('source.') -%}
                {%- do streams.append(parent.split('.')[-1]) -%}
            {%- elif parent in graph.nodes -%}
                {%- do pending.extend(graph.nodes[parent].depends_on.nodes) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do return(streams | unique | list) -%}
{% endmacro %}

{#- `(event_date = ... and event_hour in (...)) or ...` over the streams' new partitions; `1 = 0`
    when none of them received rows. -#}
{% macro smartcity_window_filter(window, streams) %}
    {%- set hours = {} -%}
    {%- for stream in streams -%}
        {%- for day, day_hours in (window.get(stream) or {}).items() -%}
            {%- for hour in day_hours -%}
                {%- if hour not in hours.setdefault(day, []) -%}{%- do hours[day].append(hour) -%}{%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if hours -%}
        ({% for day in hours | sort %}(event_date = cast('{{ day }}' as date) and event_hour in ({{ hours[day] | sort | join(', ') }})){{ ' or ' if not loop.last }}{% endfor %})
    {%- else -%}
        1 = 0
    {%- endif -%}
{% endmacro %}

{#- The hours of the streams' new partitions, as hour_start literals (UTC), for marts by hour. -#}
{% macro smartcity_window_hours(window, streams) %}
    {%- set hours = [] -%}
    {%- for stream in streams -%}
        {%- for day, day_hours in (window.get(stream) or {}).items() -%}
            {%- for hour in day_hours -%}
                {%- do hours.append("cast('" ~ day ~ " " ~ '%02d' | format(hour) ~ ":00:00' as " ~ dbt.type_timestamp() ~ ")") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do return(hours | unique | list) -%}
{% endmacro %}

{#- The refresher's window (see above): {since, partitions}, both none without one. DuckDB reads the
    file (only the local refresher writes one). -#}
{% macro smartcity_tests_window() %}
    {%- set path = env_var('SMARTCITY_TESTS_WINDOW', '') -%}
    {%- if not execute or not path -%}
        {%- do return({'since': none, 'partitions': none}) -%}
    {%- endif -%}
    {%- set text = run_query("select content from read_text('" ~ path ~ "')").columns[0].values()[0] -%}
    {%- set window = fromjson(text) -%}
    {%- do return({'since': window.since, 'partitions': window.partitions}) -%}
{% endmacro %}
