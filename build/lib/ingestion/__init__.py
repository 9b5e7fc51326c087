"""Fleet simulator and Kafka producer."""
