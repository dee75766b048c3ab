"""The chart agrees with itself and with the operator, checked without a cluster.

* every value in ``values.yaml`` is described in ``values.schema.json`` and every
  schema property has a default in ``values.yaml`` (the two are written by hand,
  so this is what keeps them from drifting);
* the rendered MutatingWebhookConfiguration is the one
  :func:`authgate.operator.webhook.webhook_configuration` builds for the same
  settings (the operator registers that shape itself when it runs outside a
  cluster, so a change to one must show up in the other);
* only the operator's own objects carry ``app.kubernetes.io/component``, once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.operator.settings import OperatorSettings, WebhookSettings
from authgate.operator.webhook import webhook_configuration

from .charts import CHART, TEMPLATE_KUBE_VERSION, Helm, by_kind, one

#: Helm's own top-level value for subcharts; it has no default in values.yaml.
HELM_BUILTINS = {"global"}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _load() -> tuple[dict[str, Any], dict[str, Any]]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    return values, schema


def _compare(value: Any, schema: dict[str, Any], path: str, problems: list[str]) -> None:
    types = schema.get("type")
    allowed = [types] if isinstance(types, str) else list(types or [])
    if (
        allowed
        and not any(
            isinstance(value, _JSON_TYPES[t]) and not (t in ("integer", "number") and value is True)
            for t in allowed
            if t != "null"
        )
        and not (value is None and "null" in allowed)
    ):
        problems.append(f"{path}: default {value!r} is not of schema type {types}")
    props = schema.get("properties")
    if props is None:
        if not schema.get("description"):
            problems.append(f"{path}: no description in values.schema.json")
        return
    if schema.get("additionalProperties") is not False:
        problems.append(f"{path}: schema object does not set additionalProperties: false")
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key not in props:
            problems.append(f"{path}.{key}: in values.yaml but not in values.schema.json")
        else:
            _compare(item, props[key], f"{path}.{key}", problems)
    for key in props:
        if key not in value and not (path == "values" and key in HELM_BUILTINS):
            problems.append(
                f"{path}.{key}: in values.schema.json but has no default in values.yaml"
            )


def test_every_value_is_in_the_schema_and_every_schema_field_has_a_value() -> None:
    values, schema = _load()
    problems: list[str] = []
    _compare(values, schema, "values", problems)
    assert problems == []


def test_the_comparison_notices_drift() -> None:
    """The check above can fail: an extra value and a missing default are both reported."""
    values, schema = _load()
    values["webhook"]["timeoutSecond"] = 5
    del values["webhook"]["path"]
    problems: list[str] = []
    _compare(values, schema, "values", problems)
    assert problems == [
        "values.webhook.timeoutSecond: in values.yaml but not in values.schema.json",
        "values.webhook.path: in values.schema.json but has no default in values.yaml",
    ]


@pytest.fixture(scope="module")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_bin, home=tmp_path_factory.mktemp("helm-home"))


@pytest.mark.helm
@pytest.mark.parametrize(
    ("sets", "namespaces"),
    [
        ((), ()),
        (
            ("operator.watchNamespaces={team-a,team-b}", "webhook.failurePolicy=Ignore"),
            ("team-a", "team-b"),
        ),
        (("webhook.timeoutSeconds=5", "webhook.excludedNamespaces={kube-system}"), ()),
    ],
)
def test_chart_webhook_is_the_operators_webhook(
    helm: Helm, sets: tuple[str, ...], namespaces: tuple[str, ...]
) -> None:
    release_namespace = "authgate-system"
    docs = helm.template(sets=sets, namespace=release_namespace)
    values, _ = _load()
    for item in sets:
        key, _, raw = item.partition("=")
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = raw.strip("{}").split(",") if raw.startswith("{") else yaml.safe_load(raw)
    chart = one(docs, "MutatingWebhookConfiguration")
    hook_values = values["webhook"]
    excluded = [
        release_namespace,
        *(n for n in hook_values["excludedNamespaces"] if n != release_namespace),
    ]
    settings = OperatorSettings(
        namespaces=namespaces,
        all_namespaces=not namespaces,
        webhook=WebhookSettings(
            failure_policy=hook_values["failurePolicy"],
            timeout_seconds=hook_values["timeoutSeconds"],
            excluded_namespaces=tuple(excluded),
        ),
    )
    client_config = chart["webhooks"][0]["clientConfig"]
    assert client_config["service"]["path"] == hook_values["path"]
    expected = webhook_configuration(settings, client_config)
    assert chart["apiVersion"] == expected["apiVersion"]
    assert chart["webhooks"] == expected["webhooks"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with the same key twice (PyYAML keeps the last)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise AssertionError(f"duplicate keys {duplicates} at {node.start_mark}")
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@pytest.mark.helm
def test_component_label_only_on_the_operators_objects(helm: Helm) -> None:
    rendered = helm.run(
        "template",
        "authgate",
        str(CHART),
        "--namespace",
        "authgate-system",
        "--values",
        str(CHART / "ci" / "full-values.yaml"),
        "--kube-version",
        TEMPLATE_KUBE_VERSION,
    ).stdout
    docs = [d for d in yaml.load_all(rendered, Loader=_UniqueKeyLoader) if d]
    for crd in by_kind(docs, "CustomResourceDefinition"):
        labels = crd["metadata"].get("labels") or {}
        assert "app.kubernetes.io/component" not in labels, crd["metadata"]["name"]
    provider = one(docs, "OIDCProvider")
    assert "app.kubernetes.io/component" not in provider["metadata"]["labels"]
    for kind in ("Deployment", "Service", "ServiceAccount", "MutatingWebhookConfiguration"):
        labels = one(docs, kind)["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "operator", kind
    pods = [d for d in by_kind(docs, "Pod") if "helm.sh/hook" in d["metadata"]["annotations"]]
    assert pods, "the chart's test pod was not rendered"
    for pod in pods:
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
