"""authgate's benchmark: every contender in one run, on one machine, as ratios.

Run ``make bench`` (or ``python -m bench``; ``--quick`` for a short run).
The contenders — a direct connection to the upstream, nginx pass-through,
authgate (aiohttp engine, lean engine with one and N workers) and
oauth2-proxy v7 in bearer-token mode — all sit in front of the same nginx
upstream and verify the same RS256 tokens from the same local OIDC issuer.
On a shared, noisy machine absolute figures mean little; ratios measured in
one run are what count, so every figure is also given as a ratio to
oauth2-proxy.  See ``docs/performance.md``.
"""
