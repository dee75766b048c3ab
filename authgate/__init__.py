"""authgate: a Kubernetes-native OIDC authentication layer.

The distribution maps four top-level source folders into this namespace
(``core/`` → ``authgate.core``, ``proxy/`` → ``authgate.proxy``,
``operator/`` → ``authgate.operator``, ``client/`` → ``authgate.client``),
because a top-level package named ``operator`` would collide with the stdlib.
"""

__version__ = "0.1.0"
