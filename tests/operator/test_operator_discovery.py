"""The discovery server over real HTTP, fed by a lister (no cluster needed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from authgate.operator.discovery import DiscoveryServer, ProviderIndex
from authgate.operator.metrics import OperatorMetrics
from authgate.operator.settings import OperatorSettings


def _provider(name: str, client_id: str, default: bool = False, ready: bool = True) -> dict:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {
            "issuer": f"https://idp.example.com/{name}",
            "clientId": client_id,
            "default": default,
            "scopePrefix": "api://x/",
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "Ready" if ready else "IssuerUnreachable",
                }
            ],
            "endpoints": {
                "issuer": f"https://idp.example.com/{name}",
                "jwksUri": f"https://idp.example.com/{name}/jwks",
                "tokenEndpoint": f"https://idp.example.com/{name}/token",
                "deviceAuthorizationEndpoint": f"https://idp.example.com/{name}/device",
            },
        },
    }


@contextlib.asynccontextmanager
async def running_server(port: int) -> AsyncIterator[Any]:
    objects: list[dict] = []

    async def lister(namespaces: tuple[str, ...]) -> list[dict]:
        return list(objects)

    settings = OperatorSettings(
        namespaces=("ns",),
        discovery_address="127.0.0.1",
        discovery_port=port,
        discovery_refresh_seconds=0.05,
    )
    srv = DiscoveryServer(settings, ProviderIndex(), OperatorMetrics(), lister)
    await srv.start()
    srv.objects = objects  # type: ignore[attr-defined]
    srv.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        await srv.stop()


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url) as rsp:
        return rsp.status, await rsp.json(content_type=None)


async def test_default_rules_and_named_providers(unused_tcp_port: int) -> None:
    async with running_server(unused_tcp_port) as server:
        await _default_rules_and_named_providers(server)


async def _default_rules_and_named_providers(server: Any) -> None:
    url = server.url + "/apis/auth/discovery"
    await server.refresh_once()
    assert await _get(url) == (200, {"auth_enabled": False})

    server.objects.append(_provider("a", "cli-a"))
    await server.refresh_once()
    status, doc = await _get(url)
    assert status == 200 and doc["auth_enabled"] is True
    assert doc["oidc"]["client_id"] == "cli-a"
    assert doc["oidc"]["token_endpoint"] == "https://idp.example.com/a/token"
    assert doc["oidc"]["scope_prefix"] == "api://x/"

    server.objects.append(_provider("b", "cli-b"))
    await server.refresh_once()
    status, doc = await _get(url)
    assert status == 409 and doc["error"] == "ambiguous_default"
    status, doc = await _get(url + "?provider=ns/b")
    assert status == 200 and doc["oidc"]["client_id"] == "cli-b"
    assert (await _get(url + "?provider=ns/zzz"))[0] == 404

    server.objects[1] = _provider("b", "cli-b", default=True)
    await server.refresh_once()
    assert (await _get(url))[1]["oidc"]["client_id"] == "cli-b"


async def test_health_ready_metrics(unused_tcp_port: int) -> None:
    async with running_server(unused_tcp_port) as server:
        await _health_ready_metrics(server)


async def _health_ready_metrics(server: Any) -> None:
    await server.refresh_once()
    assert (await _get(server.url + "/healthz"))[0] == 200
    assert (await _get(server.url + "/readyz"))[0] == 200
    await _get(server.url + "/apis/auth/discovery")
    async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as rsp:
        text = await rsp.text()
    assert 'authgate_operator_discovery_requests_total{result="disabled"} 1.0' in text


async def test_a_failing_spec_is_not_served_while_the_sidecars_keep_the_last_good_one(
    unused_tcp_port: int,
) -> None:
    """Generation 2 names a new issuer and fails its IdP checks: the ConfigMap (and so
    every sidecar) keeps generation 1, and discovery describes generation 1."""
    from authgate.operator.render import configmap_manifest, render

    settings = OperatorSettings(namespaces=("ns",))
    good = _provider("a", "cli-a", default=True)
    good["metadata"] |= {"uid": "u-a", "generation": 1}
    configmaps: dict[tuple[str, str], dict] = {}
    configmaps[("ns", "authgate-a")] = configmap_manifest(
        good,
        render(good["spec"], settings, None),
        verified_generation=1,
        endpoints=good["status"]["endpoints"],
    )
    failing = _provider("a", "cli-new", default=True, ready=False)
    failing["metadata"] |= {"uid": "u-a", "generation": 2}
    failing["spec"]["issuer"] = "https://elsewhere.example.com/new"
    failing["status"]["endpoints"] = {"issuer": "https://elsewhere.example.com/new"}
    objects = [failing]

    async def lister(namespaces: tuple[str, ...]) -> list[dict]:
        return list(objects)

    async def read(namespace: str, name: str) -> dict | None:
        return configmaps.get((namespace, name))

    settings = OperatorSettings(
        namespaces=("ns",), discovery_address="127.0.0.1", discovery_port=unused_tcp_port
    )
    srv = DiscoveryServer(settings, ProviderIndex(), OperatorMetrics(), lister, read)
    await srv.start()
    try:
        url = f"http://127.0.0.1:{unused_tcp_port}/apis/auth/discovery"
        await srv.refresh_once()
        status, doc = await _get(url)
        assert status == 200
        assert doc["oidc"]["issuer"] == "https://idp.example.com/a"
        assert doc["oidc"]["client_id"] == "cli-a"
        assert doc["oidc"]["token_endpoint"] == "https://idp.example.com/a/token"

        # Generation 2 passes after all: the ConfigMap holds it, discovery follows.
        passed = _provider("a", "cli-new", default=True)
        passed["metadata"] |= {"uid": "u-a", "generation": 2}
        passed["spec"]["issuer"] = "https://elsewhere.example.com/new"
        configmaps[("ns", "authgate-a")] = configmap_manifest(
            passed, render(passed["spec"], settings, None), verified_generation=2
        )
        objects[0] = passed
        await srv.refresh_once()
        assert (await _get(url))[1]["oidc"]["client_id"] == "cli-new"

        # Never verified (no kept config): the spec is all there is to describe.
        fresh = _provider("a", "cli-fresh", default=True, ready=False)
        fresh["metadata"] |= {"uid": "u-b", "generation": 1}
        objects[0] = fresh
        await srv.refresh_once()
        assert (await _get(url))[1]["oidc"]["client_id"] == "cli-fresh"
    finally:
        await srv.stop()
