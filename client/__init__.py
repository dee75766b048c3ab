"""The CLI and SDK: login flows, the token store, refresh and ``Client``."""
