"""Datasets that live in the warehouse: SQL nodes' intermediate tables, Snowflake sources read
in place, and the staging of Parquet data for a SQL node (see the README's "Scaling a metric")."""
