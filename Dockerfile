# One image for every authgate process: `authgate proxy`, `authgate operator`
# and the CLI (`authgate login`, ...). Two stages: the builder installs the
# wheel and its dependencies into a virtualenv, then assembles a minimal root
# filesystem in /rootfs: the interpreter, the parts of the standard library a
# server uses, exactly the shared libraries that the interpreter and the
# wheels' extension modules link (found with ldd), the CA bundle, /bin/sh and
# id, and the venv. The final stage is that tree on `scratch`: no apt/dpkg
# state, no docs, man pages or locales, no compilers, no package manager.
#
# BASE_IMAGE must provide python3 (>= 3.11) with the venv module. The default is
# the official slim image; the tests pass a locally debootstrapped Debian image
# because no container registry is reachable there.
#
# Dependencies come from PyPI, or, when build/wheelhouse/ holds wheels (see
# scripts/build-image.sh), from that directory only (pip --no-index), for
# builds that cannot reach an index from inside a container.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY . /src
RUN set -eu; \
    python3 -m venv /opt/venv; \
    if ls /src/build/wheelhouse/authgate-*.whl >/dev/null 2>&1; then \
        /opt/venv/bin/pip install --no-index --find-links /src/build/wheelhouse authgate; \
    else \
        /opt/venv/bin/pip install /src; \
    fi; \
    /opt/venv/bin/pip uninstall --yes pip setuptools wheel >/dev/null 2>&1 || true; \
    site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
    # kubernetes ships a second, asyncio copy of its whole client (~70 MB); authgate
    # uses the synchronous client (in worker threads), so that copy and the tests go.
    rm -rf "$site/kubernetes/aio"; \
    find "$site" -type d -name tests -prune -exec rm -rf {} +; \
    find "$site" -name '*_test.py' -delete; \
    find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +; \
    /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib >/dev/null; \
    /opt/venv/bin/authgate --help >/dev/null; \
    /opt/venv/bin/python -c 'import kopf, kubernetes.client, aiohttp, authgate.operator.runner, authgate.proxy.runner, authgate.client.cli'
RUN sh /src/scripts/image-rootfs.sh /rootfs

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="authgate" \
      org.opencontainers.image.description="Kubernetes-native OIDC authentication layer: sidecar proxy, operator and CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="authgate" \
      org.opencontainers.image.documentation="docs/deploy.md in the source repository"
# The whole runtime: interpreter, libraries, venv, /etc/passwd with the
# nonroot user (kopf's getpass.getuser() looks the running uid up).
COPY --from=builder /rootfs /
# Bytecode is compiled at build time, so a read-only root filesystem costs
# nothing; HOME points at /tmp, the one path a pod is expected to mount
# writable (an emptyDir) for the CLI's token store.
ENV PATH=/opt/venv/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    HOME=/tmp
# 65532 is the conventional "nonroot" uid/gid (distroless); numeric so that
# Kubernetes' runAsNonRoot can verify it without an /etc/passwd entry.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 9090
ENTRYPOINT ["authgate"]
CMD ["--help"]
