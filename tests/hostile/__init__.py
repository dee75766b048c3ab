"""Hostile-input suite: table-driven attacks against the real proxy process."""
