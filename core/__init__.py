"""The shared core: config model, validation, OIDC discovery, key cache, token
verification, principal extraction, authorization rules, identity-header plan
and the discovery document.  It imports no web framework and no Kubernetes
client, so the proxy, the operator and the CLI can all reuse it unchanged."""
