"""The lake as Apache Iceberg tables: one table per stream and zone, their catalog, the batch
commit the streaming job makes, the rewrite that compacts an hour, snapshot expiry and orphan
removal, and the current snapshot's data files for readers. Imports only the contract."""
