"""Helpers every test folder shares (ports, fake IdPs, in-memory fetchers).

One copy each, imported by full name (``from tests.support.ports import free_port``);
a folder's own harness (``tests/proxy/proxy_harness.py`` …) builds on these.
"""
