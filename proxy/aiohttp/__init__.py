"""The aiohttp engine (``server.engine: aiohttp``), the reference implementation.

It serves the client-facing listener with aiohttp's server and forwards with
aiohttp's client session.  Everything both engines share — the runtime,
reload, metrics, access log, admin listener and the ``/apis/auth/`` router —
lives one level up in :mod:`authgate.proxy`; the lean engine sits next to
this package in :mod:`authgate.proxy.lean`.  ``import aiohttp`` inside this
package is an absolute import of the library, not of this package.
"""
