"""Play the kubelet: run a Pod, as stored by the API server, with Docker.

The test control plane has no kubelet, so after the webhook has mutated a Pod
the test runs it here, from nothing but the stored spec:

* one *sandbox* container owns the network namespace (the pause container);
  every container of the pod joins it (``network_mode=container:<sandbox>``),
  so they share one loopback, exactly like a pod. By default the namespace is
  private (only ``lo``, as the engine has no routed bridge): the sandbox runs
  :mod:`.relay`, which forwards the pod's declared ports out to host loopback
  ports (like ``kubectl port-forward``) and the listed *egress* ports (the IdP
  on the host's loopback) in. ``network="host"`` puts the sandbox in the host's
  namespace instead (``hostNetwork``);
* containers get exactly the spec's image, command + args (Kubernetes
  semantics: ``command`` replaces the entrypoint, ``args`` the image's CMD),
  env (``value`` and the ``fieldRef`` the downward API offers), security
  context (user, read-only root, dropped capabilities, no-new-privileges);
* volumes: a ``configMap`` volume is a host directory laid out like the
  kubelet's atomic writer (``..data`` -> timestamped dir, one symlink per key),
  re-synced with the same atomic symlink swap; an ``emptyDir`` is a tmpfs;
* native sidecars (initContainers with ``restartPolicy: Always``) start first,
  in order, and must pass their startup probe before the next one starts;
  then the app containers start and their readiness is awaited.

Containers are started with testcontainers; everything is removed on stop.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testcontainers.core.container import DockerContainer

from ..support.ports import free_port as _free_port
from .relay import HostRelays

RELAY_SCRIPT = Path(__file__).with_name("relay.py")



class PodStartError(Exception):
    """A container exited or never became ready; the message carries its logs."""


class ConfigMapVolume:
    """A ConfigMap projected into a directory the way the kubelet does it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)

    def write(self, data: Mapping[str, str]) -> None:
        """Publish ``data`` atomically: new timestamped dir, then swap ``..data``."""
        stamp = datetime.now(UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
        payload = self.directory / stamp
        payload.mkdir(mode=0o755)
        for key, value in data.items():
            target = payload / key
            target.write_text(value)
            target.chmod(0o644)
        data_link = self.directory / "..data"
        old = os.readlink(data_link) if data_link.is_symlink() else None
        tmp_link = self.directory / "..data_tmp"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        tmp_link.symlink_to(stamp)
        os.replace(tmp_link, data_link)  # rename(2): atomic for readers
        for key in data:
            link = self.directory / key
            if not link.is_symlink():
                link.symlink_to(f"..data/{key}")
        for key_link in self.directory.iterdir():
            if key_link.is_symlink() and key_link.name not in data and not key_link.name.startswith(
                ".."
            ):
                key_link.unlink()
        if old is not None:
            for stale in (self.directory / old).iterdir():
                stale.unlink()
            (self.directory / old).rmdir()


@dataclass
class RunningPod:
    """Handles of a started pod; ``stop()`` removes every container."""

    name: str
    sandbox: DockerContainer
    containers: dict[str, DockerContainer] = field(default_factory=dict)
    config_maps: dict[str, ConfigMapVolume] = field(default_factory=dict)
    #: container port -> host loopback port that reaches it
    ports: dict[int, int] = field(default_factory=dict)
    relays: list[HostRelays] = field(default_factory=list)

    def url(self, container_port: int) -> str:
        return f"http://127.0.0.1:{self.ports[container_port]}"

    def container_id(self, name: str) -> str:
        return str(self.containers[name].get_wrapped_container().id)

    def inspect(self, name: str) -> dict[str, Any]:
        wrapped = self.containers[name].get_wrapped_container()
        wrapped.reload()
        return dict(wrapped.attrs)

    def logs(self, name: str) -> str:
        out, err = self.containers[name].get_logs()
        return (out + err).decode(errors="replace")

    def stop(self) -> None:
        for container in reversed(list(self.containers.values())):
            try:
                container.stop(force=True, delete_volume=True)
            except Exception:
                continue
        try:
            self.sandbox.stop(force=True, delete_volume=True)
        except Exception:
            pass
        for relays in self.relays:
            relays.stop()


def _env(container: Mapping[str, Any], pod: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    meta = pod["metadata"]
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        known = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"]}
        if ref not in known:
            raise PodStartError(f"env {item['name']}: unsupported source {item.get('valueFrom')}")
        env[item["name"]] = known[ref]
    return env


def _port_number(container: Mapping[str, Any], port: Any) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for item in container.get("ports") or []:
        if item.get("name") == port:
            return int(item["containerPort"])
    raise PodStartError(f"container {container['name']}: probe port {port!r} not declared")


def _probe_ok(
    container: Mapping[str, Any], probe: Mapping[str, Any], ports: Mapping[int, int]
) -> bool:
    action = probe.get("httpGet")
    if action is None:
        raise PodStartError(f"container {container['name']}: only httpGet probes are played")
    port = ports[_port_number(container, action["port"])]
    url = f"http://127.0.0.1:{port}{action.get('path', '/')}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 400
    except (urllib.error.URLError, OSError):
        return False


class PodRunner:
    """Runs one pod spec; ``volume_data`` gives the content of each configMap volume."""

    def __init__(
        self,
        pod: Mapping[str, Any],
        workdir: Path,
        volume_data: Callable[[str], Mapping[str, str]],
        sandbox_image: str,
        network: str = "private",
        egress_ports: Sequence[int] = (),
    ) -> None:
        self.pod = pod
        self.workdir = workdir
        self.volume_data = volume_data
        self.sandbox_image = sandbox_image
        self.network = network
        self.egress_ports = list(egress_ports)

    def _declared_ports(self) -> list[int]:
        spec = self.pod["spec"]
        return [
            int(port["containerPort"])
            for container in [*(spec.get("initContainers") or []), *spec["containers"]]
            for port in container.get("ports") or []
        ]

    def _start_sandbox(self, name: str) -> RunningPod:
        """The pause container; in a private namespace it also runs the relays."""
        sandbox = DockerContainer(self.sandbox_image)
        sandbox.with_name(f"{name}-sandbox")
        if self.network == "host":
            sandbox.with_kwargs(network_mode="host", labels={"authgate.e2e/pod": name},
                                entrypoint=["python3", "-c", "import signal; signal.pause()"])
            sandbox.start()
            return RunningPod(name=name, sandbox=sandbox,
                              ports={p: p for p in self._declared_ports()})  # fmt: skip
        relay_dir = self.workdir / "relay"
        relay_dir.mkdir(parents=True, exist_ok=True)
        relay_dir.chmod(0o777)  # sockets are made by root (host) and uid 65532 (sandbox)
        (relay_dir / "relay.py").write_bytes(RELAY_SCRIPT.read_bytes())
        (relay_dir / "relay.py").chmod(0o644)
        egress = HostRelays(
            [f"unix:{relay_dir}/egress-{p}.sock=tcp:{p}" for p in self.egress_ports]
        )
        inside = [f"tcp:{p}=unix:/relay/egress-{p}.sock" for p in self.egress_ports]
        inside += [f"unix:/relay/ingress-{p}.sock=tcp:{p}" for p in self._declared_ports()]
        sandbox.with_kwargs(network_mode="none", labels={"authgate.e2e/pod": name},
                            entrypoint=["python3", "/relay/relay.py", *inside], read_only=True)
        sandbox.with_volume_mapping(relay_dir, "/relay", "rw")
        running = RunningPod(name=name, sandbox=sandbox, relays=[egress])
        try:
            egress.start()
            sandbox.start()
            deadline = time.monotonic() + 30
            while not all((relay_dir / f"ingress-{p}.sock").exists()
                          for p in self._declared_ports()):  # fmt: skip
                if time.monotonic() > deadline:
                    out, err = sandbox.get_logs()
                    raise PodStartError(f"sandbox relays did not start:\n{(out + err).decode()}")
                time.sleep(0.1)
            ports = {p: _free_port() for p in self._declared_ports()}
            ingress = HostRelays([f"tcp:{h}=unix:{relay_dir}/ingress-{p}.sock"
                                  for p, h in ports.items()])  # fmt: skip
            running.relays.append(ingress)
            ingress.start()
            running.ports = ports
        except BaseException:
            running.stop()
            raise
        return running

    def _mount_volumes(
        self, container: Mapping[str, Any], running: RunningPod, docker: DockerContainer
    ) -> None:
        volumes = {v["name"]: v for v in self.pod["spec"].get("volumes") or []}
        for mount in container.get("volumeMounts") or []:
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                cm = running.config_maps.get(mount["name"])
                if cm is None:
                    cm = ConfigMapVolume(self.workdir / "volumes" / mount["name"])
                    cm.write(self.volume_data(volume["configMap"]["name"]))
                    running.config_maps[mount["name"]] = cm
                docker.with_volume_mapping(cm.directory, mount["mountPath"], "ro")
            elif "emptyDir" in volume:
                docker.tmpfs[mount["mountPath"]] = "rw,nosuid,nodev,mode=1777,size=64m"
            else:
                raise PodStartError(f"volume {mount['name']}: only configMap/emptyDir are played")

    def _start_container(self, container: Mapping[str, Any], running: RunningPod) -> None:
        spec_security = container.get("securityContext") or {}
        pod_security = self.pod["spec"].get("securityContext") or {}
        user = spec_security.get("runAsUser", pod_security.get("runAsUser"))
        group = spec_security.get("runAsGroup", pod_security.get("runAsGroup", user))
        kwargs: dict[str, Any] = {
            "network_mode": f"container:{running.sandbox.get_wrapped_container().id}",
            "read_only": bool(spec_security.get("readOnlyRootFilesystem", False)),
            "labels": {"authgate.e2e/pod": running.name},
        }
        if user is not None:
            kwargs["user"] = f"{user}:{group}"
        if "ALL" in ((spec_security.get("capabilities") or {}).get("drop") or []):
            kwargs["cap_drop"] = ["ALL"]
        if spec_security.get("allowPrivilegeEscalation") is False:
            kwargs["security_opt"] = ["no-new-privileges"]
        command, args = container.get("command"), container.get("args")
        docker_container = DockerContainer(container["image"], env=_env(container, self.pod))
        self._mount_volumes(container, running, docker_container)
        if command:  # Kubernetes: command replaces ENTRYPOINT (and drops the image's CMD)
            kwargs["entrypoint"] = [*command, *(args or [])]
        elif args:
            docker_container.with_command(list(args))
        docker_container.with_name(f"{running.name}-{container['name']}")
        docker_container.with_kwargs(**kwargs)
        docker_container.start()
        running.containers[container["name"]] = docker_container

    def _await(
        self, container: Mapping[str, Any], running: RunningPod, probe_key: str, timeout: float
    ) -> None:
        probe = container.get(probe_key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = running.inspect(container["name"])["State"]
            if not state.get("Running"):
                raise PodStartError(
                    f"container {container['name']} exited ({state.get('ExitCode')}):\n"
                    + running.logs(container["name"])[-4000:]
                )
            if probe is None or _probe_ok(container, probe, running.ports):
                return
            time.sleep(0.25)
        raise PodStartError(
            f"container {container['name']} failed its {probe_key} within {timeout}s:\n"
            + running.logs(container["name"])[-4000:]
        )

    def _check_ports_free(self) -> None:
        """The sandbox shares the host's network namespace: a declared port already
        bound on the host would make the pod fail in a confusing way, so say so."""
        import socket

        spec = self.pod["spec"]
        for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
            for port in container.get("ports") or []:
                with socket.socket() as sock:
                    try:
                        sock.bind(("127.0.0.1", int(port["containerPort"])))
                    except OSError as exc:
                        raise PodStartError(
                            f"port {port['containerPort']} of container {container['name']} is "
                            f"already in use on this host ({exc}); the pod sandbox uses host "
                            "networking"
                        ) from None

    def start(self, timeout: float = 60.0) -> RunningPod:
        if self.network == "host":
            self._check_ports_free()
        name = f"e2e-{self.pod['metadata']['namespace']}-{self.pod['metadata']['name']}"
        running = self._start_sandbox(name)
        try:
            spec = self.pod["spec"]
            for init in spec.get("initContainers") or []:
                if init.get("restartPolicy") != "Always":
                    raise PodStartError(f"initContainer {init['name']}: only sidecars are played")
                self._start_container(init, running)
                self._await(init, running, "startupProbe", timeout)
            for container in spec["containers"]:
                self._start_container(container, running)
            for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
                self._await(container, running, "readinessProbe", timeout)
        except BaseException:
            running.stop()
            raise
        return running
