"""HTTP serving: ``gatedrnn serve`` (FastAPI app in app.py, its page in static/)."""
