"""Spark Structured Streaming job: Kafka topics to the raw Parquet lake."""
