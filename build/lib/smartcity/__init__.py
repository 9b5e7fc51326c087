"""The shell of the pipeline: CLI, configuration, embedded broker, orchestration. It imports the
stages (ingestion, spark); nothing imports it."""
