"""The HTTP layer: the `/api/v1` sub-application, its middlewares and documents."""
