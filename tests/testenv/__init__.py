"""The real test environment: fixture implementations behind `tests/conftest.py`.

Each module owns one component (ca, kube, keycloak, docker_env) plus the
shared plumbing (components: where binaries are; process: child processes
with logs and teardown; browser: driving Keycloak's login pages). The
contract the rest of the suite codes against is `docs/testenv-api.md`.
"""

from .ca import TestCA
from .cluster import ClusterEnv
from .docker_env import DockerEnv
from .errors import ComponentFailed, ComponentMissing, TestEnvError
from .keycloak import KeycloakEnv
from .kube import KubeEnv
from .realm import KeycloakUser

__all__ = [
    "ClusterEnv",
    "ComponentFailed",
    "ComponentMissing",
    "DockerEnv",
    "KeycloakEnv",
    "KeycloakUser",
    "KubeEnv",
    "TestCA",
    "TestEnvError",
]
