"""End-to-end tests: the container image, the Helm chart, and the whole path
(operator from the image -> OIDCProvider -> injected pod -> traffic)."""
