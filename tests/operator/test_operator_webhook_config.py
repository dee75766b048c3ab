"""The webhook configuration's deliberate choices, and small pure helpers."""

from __future__ import annotations

from authgate.operator.events import event_for
from authgate.operator.settings import OperatorSettings
from authgate.operator.webhook import webhook_configuration


def test_only_opted_in_pods_reach_the_operator_and_they_fail_closed() -> None:
    client_config = {"url": "https://x/inject", "caBundle": "Q0E="}
    conf = webhook_configuration(OperatorSettings(), client_config)
    annotated, labelled = conf["webhooks"]
    for hook in (annotated, labelled):
        assert hook["failurePolicy"] == "Fail"
        assert hook["reinvocationPolicy"] == "IfNeeded"
        assert hook["rules"][0]["resources"] == ["pods"]
        assert hook["rules"][0]["operations"] == ["CREATE"]
        assert hook["clientConfig"] == client_config
        excluded = [
            e
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert excluded[0]["operator"] == "NotIn" and "kube-system" in excluded[0]["values"]
    assert "'authgate.io/inject'] == 'true'" in annotated["matchConditions"][0]["expression"]
    assert {"key": "authgate.io/injection", "operator": "In", "values": ["enabled"]} in (
        labelled["namespaceSelector"]["matchExpressions"]
    )
    assert "!= 'false'" in labelled["matchConditions"][0]["expression"]


def test_backoff_doubles_up_to_the_cap() -> None:
    s = OperatorSettings()
    assert [s.backoff(r) for r in range(7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_events_are_warnings_when_a_condition_turns_false() -> None:
    kind, reason, message = event_for(
        "Ready", {"status": "False", "reason": "IssuerUnreachable", "message": "connect refused"}
    )
    assert (kind, reason) == ("Warning", "IssuerUnreachable")
    assert message == "Ready is False: connect refused"
    assert event_for("Ready", {"status": "True", "reason": "Ready"})[0] == "Normal"


def test_a_namespaced_operator_injects_only_its_namespaces() -> None:
    conf = webhook_configuration(OperatorSettings(namespaces=("team",)), {"url": "https://x/i"})
    for hook in conf["webhooks"]:
        assert {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team"]} in (
            hook["namespaceSelector"]["matchExpressions"]
        )
    wide = webhook_configuration(OperatorSettings(all_namespaces=True), {"url": "https://x/i"})
    exprs = wide["webhooks"][0]["namespaceSelector"]["matchExpressions"]
    assert [e["operator"] for e in exprs] == ["NotIn"]
