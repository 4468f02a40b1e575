"""The operator's terminal: client commands that drive a running service over its REST API
and WebSocket. Nothing here imports models, storage or the engine."""
