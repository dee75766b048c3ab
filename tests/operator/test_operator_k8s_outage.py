"""Keycloak down -> Ready False; Keycloak back -> Ready True (the timer re-check).

Marked ``disruptive``: it stops the session's Keycloak for a while, so the
ordering hook in ``tests/conftest.py`` runs it after every other test.
"""

from __future__ import annotations

from typing import Any

import pytest

from .operator_helpers import Providers, keycloak_spec

pytestmark = [
    pytest.mark.k8s,
    pytest.mark.keycloak,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.disruptive,
]


def test_idp_outage_flips_ready_and_back(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    op = start_operator(namespace)
    providers = Providers(kube, namespace)
    providers.create("corp", keycloak_spec(keycloak))
    providers.wait_ready("corp", "True")
    keycloak.stop()
    try:
        down = providers.wait_ready("corp", "False", "IssuerUnreachable", timeout=60)
        assert keycloak.issuer in down["message"]
    finally:
        keycloak.start()
    up = providers.wait_ready("corp", "True", timeout=120)
    assert up["reason"] == "Ready"
    assert op.alive()
