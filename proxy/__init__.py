"""The sidecar proxy: the HTTP data path, the admin server, hot reload and metrics."""
