{#- dbt's is_incremental(), or true when compiling offline for athena/redshift (var offline_compile):
    there is no warehouse to ask whether the table exists, and the incremental branch is the SQL whose
    dialect must be checked. Only the project's incremental macros ask it; dbt's own is_incremental()
    is not overridden. -#}
{% macro smartcity_is_incremental() %}
    {{ return(var('offline_compile', false) or is_incremental()) }}
{% endmacro %}
