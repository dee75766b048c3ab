"""The test suite: one package, so helpers are imported by their full name
(``tests.proxy.proxy_harness``) and never by a bare sibling name."""
