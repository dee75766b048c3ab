"""Names shared by every part: defined once so the operator, proxy, chart and
CLI can never disagree on them."""

from __future__ import annotations

from typing import Final

GROUP: Final = "authgate.io"
API_VERSION: Final = "authgate.io/v1alpha1"
CONFIG_KIND: Final = "ProxyConfig"
PROVIDER_KIND: Final = "OIDCProvider"
PROVIDER_PLURAL: Final = "oidcproviders"

# Pod / Deployment annotations that opt a workload in to sidecar injection.
# "true" opts the pod in.
INJECT_ANNOTATION: Final = "authgate.io/inject"
# OIDCProvider name in the pod's namespace.
PROVIDER_ANNOTATION: Final = "authgate.io/provider"
# Name (or number) of the app port the sidecar takes over.
PORT_ANNOTATION: Final = "authgate.io/port"
# Set by the webhook; makes injection idempotent.
INJECTED_ANNOTATION: Final = "authgate.io/injected"
# Namespace label that opts every pod in the namespace in.
NAMESPACE_INJECTION_LABEL: Final = "authgate.io/injection"  # "enabled"

DISCOVERY_PATH: Final = "/apis/auth/discovery"
# The operator's access-key API, and the prefix of its per-provider access-key issuers.
ACCESS_KEYS_API_PATH: Final = "/apis/auth/v2/access-keys"
ACCESS_KEY_ISSUER_PATH: Final = "/apis/auth/v2/issuers"
CONFIG_FILE_NAME: Final = "config.yaml"  # key inside the rendered ConfigMap
