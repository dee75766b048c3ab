"""The CRD is generated from the config model: these tests keep the two from drifting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from click.testing import CliRunner

from authgate.cli import main
from authgate.core import config as cfg
from authgate.core.config import field_types
from authgate.operator.crd import crd_manifest, spec_schema
from authgate.operator.spec import DEPLOYMENT_OWNED, SPEC_FIELDS

CRD_FILE = Path(__file__).resolve().parents[2] / "operator" / "crd.yaml"


def _config_leaves() -> set[tuple[str, str]]:
    leaves: set[tuple[str, str]] = set()
    for section, tp in field_types(cfg.ProxyConfig).items():
        if dataclasses.is_dataclass(tp):
            leaves |= {(section, f.name) for f in dataclasses.fields(tp)}
        else:
            leaves.add(("", section))
    return leaves


def test_every_config_field_is_in_the_crd_or_owned_by_the_deployment() -> None:
    mapped = {f.config for f in SPEC_FIELDS}
    leaves = _config_leaves()
    missing = leaves - mapped - DEPLOYMENT_OWNED
    assert not missing, f"config fields with no OIDCProvider spec field: {sorted(missing)}"
    assert not (mapped & DEPLOYMENT_OWNED)
    assert mapped <= leaves, f"spec fields for unknown config fields: {sorted(mapped - leaves)}"


def test_committed_crd_yaml_is_the_generated_one() -> None:
    from authgate.operator.accesskeys.crd import access_key_crd_manifest

    committed = list(yaml.safe_load_all(CRD_FILE.read_text()))
    assert committed == [crd_manifest(), access_key_crd_manifest()], (
        "operator/crd.yaml is stale: run `authgate operator crd > operator/crd.yaml`"
    )


def test_cli_prints_the_crd() -> None:
    result = CliRunner().invoke(main, ["operator", "crd"])
    assert result.exit_code == 0, result.output
    assert next(iter(yaml.safe_load_all(result.output))) == crd_manifest()
    with_peering = CliRunner().invoke(main, ["operator", "crd", "--peering"])
    kinds = [d["spec"]["names"]["kind"] for d in yaml.safe_load_all(with_peering.output)]
    assert kinds == ["OIDCProvider", "AccessKey", "KopfPeering", "ClusterKopfPeering"]


def _walk(schema: dict, path: str = "spec"):
    yield path, schema
    for name, prop in (schema.get("properties") or {}).items():
        yield from _walk(prop, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")


def test_every_field_has_a_description_and_strings_are_bounded() -> None:
    for path, node in _walk(spec_schema()):
        if not path.endswith("[]"):
            assert node.get("description"), f"{path} has no description (kubectl explain)"
        if node.get("type") == "string" and "enum" not in node:
            assert "maxLength" in node, f"{path} is unbounded"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} is unbounded"


def test_schema_types_and_defaults_come_from_the_config_model() -> None:
    schema = spec_schema()
    props = schema["properties"]
    assert schema["required"] == ["issuer", "clientId"]
    tuning = props["tuning"]["properties"]
    assert tuning["leewaySeconds"]["default"] == cfg.TokenConfig().leeway_seconds
    assert props["tuning"]["properties"]["tokenCacheSize"]["type"] == "integer"
    assert props["headers"]["properties"]["preset"]["enum"] == sorted(cfg.HEADER_PRESETS)
    algs = props["tuning"]["properties"]["algorithms"]
    assert algs["items"]["enum"] == list(cfg.ASYMMETRIC_ALGORITHMS)
    assert props["defaultScopes"]["default"] == cfg.OIDCConfig().default_scopes
    rule = props["authorization"]["properties"]["rules"]["items"]
    assert rule["required"] == ["pathPrefix"]
    assert set(rule["properties"]) == {"pathPrefix", "readScopes", "writeScopes", "groups"}
    assert "x-kubernetes-validations" in props["issuer"]


def test_printer_columns_and_status_subresource() -> None:
    version = crd_manifest()["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Issuer",
        "Ready",
        "Reason",
        "Age",
    ]
    assert version["subresources"] == {"status": {}}
