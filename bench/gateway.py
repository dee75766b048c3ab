"""Gateway-mode contenders (issue 14), kept apart from the core bench.

* ``nginx-auth-request`` — an nginx in front of the same upstream that asks an
  authgate in gateway mode (``/apis/auth/check``, lean engine) about every
  request with ``auth_request`` and copies the identity headers upstream, as
  docs/deploy.md configures it.  Its process figures cover nginx only; the
  ``authgate-gateway`` service behind it is measured by its own entry.

Compare it with ``nginx`` (pass-through, no authentication) and the sidecar
(``authgate-lean``) in the same run:
``python -m bench --quick --only nginx,nginx-auth-request,authgate-lean``.
"""

from __future__ import annotations

from pathlib import Path

from . import contenders as c

__all__ = ["GATEWAY_CONTENDER", "start_gateway_contenders"]

GATEWAY_CONTENDER = "nginx-auth-request"


def _authgate_gateway(workdir: Path, port: int, issuer: str) -> c.Service:
    admin_port = c.free_port()
    document = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "server": {"engine": "lean", "workers": 1, "trusted_proxies": ["127.0.0.1/32"]},
        "listen": {"host": "127.0.0.1", "port": port},
        "admin": {"host": "127.0.0.1", "port": admin_port},
        "oidc": {"issuer": issuer, "client_id": c.AUDIENCE},
        "limits": {"max_in_flight": 100000},
        "gateway": {"enabled": True, "proxy_upstream": False},
    }
    return c.authgate_service(workdir, "authgate-gateway", document)


def _nginx_auth_request(
    workdir: Path, nginx: str, port: int, gw_port: int, up_port: int
) -> c.Service:
    copy = "\n".join(
        f"      auth_request_set $ag_{i} $upstream_http_{h.lower().replace('-', '_')};\n"
        f"      proxy_set_header {h} $ag_{i};"
        for i, h in enumerate(
            (
                "X-NMP-Principal-Id",
                "X-NMP-Principal-Email",
                "X-NMP-Principal-Groups",
                "X-NMP-Scopes",
            )
        )
    )
    conf = c._nginx_conf(
        workdir,
        GATEWAY_CONTENDER,
        f"""server {{
    listen 127.0.0.1:{port};
    location = /ready {{ return 200 "ok"; }}
    location = /_authgate {{
      internal;
      proxy_pass http://ag/apis/auth/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header Upgrade "";
      proxy_set_header Connection "";
      proxy_http_version 1.1;
    }}
    location /ws {{
      auth_request /_authgate;
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;
    }}
    location / {{
      auth_request /_authgate;
{copy}
      proxy_set_header Authorization "";
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}""",
        extra_http=(
            f"upstream up {{ server 127.0.0.1:{up_port}; keepalive 256; }}\n"
            f"  upstream ag {{ server 127.0.0.1:{gw_port}; keepalive 256; }}"
        ),
    )
    return c.Service(
        GATEWAY_CONTENDER,
        [nginx, "-c", str(conf), "-p", str(workdir)],
        port,
        workdir,
        ready_path="/ready",
    )


def start_gateway_contenders(
    stack: c.Stack, workdir: Path, nginx: str, up_port: int, issuer: str
) -> None:
    """Start authgate in gateway mode and the nginx that asks it."""
    gateway = stack.add(_authgate_gateway(workdir, c.free_port(), issuer))
    stack.add(_nginx_auth_request(workdir, nginx, c.free_port(), gateway.port, up_port))
