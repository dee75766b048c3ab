"""The kopf operator: OIDCProvider CRD, rendering, status, discovery server and sidecar webhook."""
