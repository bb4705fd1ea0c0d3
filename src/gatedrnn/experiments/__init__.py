"""The chapter's experiments, one module per claim or exercise; each returns a result table."""
