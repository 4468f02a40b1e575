"""Live updates: the WebSocket hub and its endpoint."""
