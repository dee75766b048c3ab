"""The proxy configuration: one versioned document, frozen dataclasses.

The document (``apiVersion: authgate.io/v1alpha1``, ``kind: ProxyConfig``) is
written by people, by the operator (into a ConfigMap) and by the tests; the
proxy, the lean data path and the operator all read it through
:func:`parse_config`, so there is exactly one schema.  The package is layered,
each module importing only the ones above it:

* :mod:`.schema` — the walk over type hints, :class:`Bounds`, the error list;
* :mod:`.model` — the dataclasses alone (fields, docs, bounds), with the
  identity-provider sections in :mod:`.idp_model` and the issuer entries in
  :mod:`.issuer_model`;
* :mod:`.env` — ``AUTHGATE__…`` environment overrides;
* :mod:`.validation` — shape and meaning checks (issuer entries: :mod:`.issuer_checks`);
* :mod:`.loader` — ``parse_config`` / ``load_config`` / ``config_to_document``.

Import from here (``from authgate.core.config import ProxyConfig``); the
submodules are an implementation detail and never import this ``__init__``.
"""

from __future__ import annotations

# Each submodule's ``__all__`` is its public part, re-exported here so every name is
# listed once, where it is defined (their other names are helpers the submodules share).
# checks is the exception: of its shared checks only is_loopback_host is public.
from . import env, issuer_model, loader, model, schema, validation
from .checks import is_loopback_host
from .env import *  # noqa: F403
from .issuer_model import *  # noqa: F403
from .loader import *  # noqa: F403
from .model import *  # noqa: F403
from .schema import *  # noqa: F403
from .validation import *  # noqa: F403

__all__ = ["is_loopback_host"]
__all__ += env.__all__
__all__ += issuer_model.__all__
__all__ += loader.__all__
__all__ += model.__all__
__all__ += schema.__all__
__all__ += validation.__all__
