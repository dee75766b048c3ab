"""What the operator's kopf handler objects share.

The reconciler and the admission webhook both act on the same four parts,
built once in :func:`.runner._main`: the settings, the Kubernetes client, the
index discovery serves from, and the metrics. One base holds them so that a
fifth shared part is added in one place, not once per handler object.
"""

from __future__ import annotations

from .discovery import ProviderIndex
from .kube import Kube
from .metrics import OperatorMetrics
from .settings import OperatorSettings


class HandlerBase:
    """The parts every handler object uses; subclasses add their own state."""

    def __init__(
        self, settings: OperatorSettings, kube: Kube, index: ProviderIndex, metrics: OperatorMetrics
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.index = index
        self.metrics = metrics
