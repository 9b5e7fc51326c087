"""How every component reaches Kafka: one set of connection settings (TLS, mutual TLS, SASL PLAIN and
SCRAM, Amazon MSK IAM), mapped to each client the pipeline uses, and Kafka's errors in a person's words.

Bottom layer beside ``contract``: it imports nothing of ours, so the simulator, the Spark job and
the shell all build their clients from the same settings.
"""
