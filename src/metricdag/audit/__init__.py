"""The audit store: run and load records, the persister's load ledger and open incidents,
in a database of its own (never the catalog's)."""

from metricdag.audit.store import AuditStore, audit_store_for

__all__ = ["AuditStore", "audit_store_for"]
