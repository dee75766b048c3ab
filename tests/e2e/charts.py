"""Run Helm against the chart and read what it renders.

Thin wrappers over the real ``helm`` binary (never a template re-implementation):
each call has a timeout, and a failure raises :class:`HelmError` carrying
helm's own stderr, so a failing test shows what helm said.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
#: Every CRD the chart installs (kept on uninstall, so later installs adopt them).
CRD_NAMES = [
    "oidcproviders.authgate.io",
    "accesskeys.authgate.io",
    "kopfpeerings.kopf.dev",
    "clusterkopfpeerings.kopf.dev",
]
CHART = REPO / "charts" / "authgate"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
# `helm template` has no cluster to ask; a helm built without the release
# ldflags would assume Kubernetes v1.20 and fail the chart's kubeVersion.
TEMPLATE_KUBE_VERSION = "v1.31.0"


class HelmError(Exception):
    """helm exited non-zero; the message has the command and helm's stderr."""


@dataclass(frozen=True)
class Helm:
    """The helm binary, optionally pointed at a cluster."""

    binary: Path
    kubeconfig: Path | None = None
    home: Path | None = None  # keeps helm's cache/config out of the user's $HOME

    def run(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "HELM_NO_PLUGINS": "1"}
        if self.home is not None:
            env |= {
                "HOME": str(self.home),
                "HELM_CACHE_HOME": str(self.home / "cache"),
                "HELM_CONFIG_HOME": str(self.home / "config"),
                "HELM_DATA_HOME": str(self.home / "data"),
            }
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        result = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=timeout, env=env
        )
        if check and result.returncode != 0:
            raise HelmError(
                f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()}"
            )
        return result

    def template(
        self,
        values_files: Iterable[Path] = (),
        sets: Sequence[str] = (),
        release: str = "authgate",
        namespace: str = "authgate-system",
        extra: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Render the chart and return its documents (hooks and tests included)."""
        args = [
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--kube-version",
            TEMPLATE_KUBE_VERSION,
        ]
        for values in values_files:
            args += ["--values", str(values)]
        for item in sets:
            args += ["--set", item]
        return parse_documents(self.run(*args, *extra).stdout)


def parse_documents(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a multi-document stream."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(documents: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc.get("kind") == kind]


def one(documents: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single document of ``kind`` (and ``name``); AssertionError otherwise."""
    found = [d for d in by_kind(documents, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def is_hook(document: dict[str, Any]) -> bool:
    annotations = document.get("metadata", {}).get("annotations") or {}
    return "helm.sh/hook" in annotations
