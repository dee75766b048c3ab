#!/bin/sh
# Assemble the runtime root filesystem of the authgate image (run inside the
# Dockerfile's builder stage, after /opt/venv is installed):
#
#   image-rootfs.sh /rootfs
#
# What goes in, and nothing else:
# - the interpreter (/usr/bin/python3.11) and the standard library minus what a
#   server never imports (tests, IDLE, tkinter, ensurepip, lib2to3, pydoc data,
#   the static libpython and build config);
# - every shared library that the interpreter, the stdlib's extension modules
#   and the venv's extension modules (cryptography, uvloop, httptools, yaml, ...)
#   link against, resolved with ldd, plus the dynamic loader;
# - the CA bundle at the paths OpenSSL looks (/usr/lib/ssl/cert.pem, certs/);
# - /bin/sh (dash) and id, for `kubectl exec` and the image tests;
# - /etc/passwd and /etc/group with root and nonroot (65532), an empty /tmp;
# - the venv at /opt/venv;
# - bytecode without sources outside authgate's own package (see below).
# No apt or dpkg state, docs, man pages, locales (C.UTF-8 is built into glibc)
# or compilers are copied.
set -eu
out=$1
py=/usr/bin/python3.11
stdlib=/usr/lib/python3.11
rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/usr/lib" "$out/etc/ssl/certs" "$out/usr/lib/ssl" "$out/tmp" "$out/opt"
# merged /usr, as on Debian bookworm
ln -s usr/bin "$out/bin"
ln -s usr/lib "$out/lib"
ln -s usr/lib64 "$out/lib64"
mkdir -p "$out/usr/lib64"
chmod 1777 "$out/tmp"

cp -a "$py" "$out/usr/bin/python3.11"
ln -s python3.11 "$out/usr/bin/python3"
cp -aL /bin/dash "$out/usr/bin/dash"
ln -s dash "$out/usr/bin/sh"
cp -aL /usr/bin/id "$out/usr/bin/id"

mkdir -p "$out$stdlib"
tar -C "$stdlib" \
    --exclude=./test --exclude=./idlelib --exclude=./tkinter --exclude=./turtledemo \
    --exclude=./ensurepip --exclude=./lib2to3 --exclude=./pydoc_data --exclude='./config-3.11-*' \
    --exclude=./unittest/test --exclude=./sqlite3/test --exclude=./ctypes/test \
    --exclude=./distutils/tests --exclude=./venv --exclude=./site-packages \
    -cf - . | tar -C "$out$stdlib" -xf -

cp -a /opt/venv "$out/opt/venv"

# Sourceless bytecode for the standard library and third-party packages: the
# .pyc sits where the .py was (compileall -b) and the source goes, which saves
# ~50 MiB. Tracebacks through those frames then show file and line without the
# source text; authgate's own modules keep their sources (and __pycache__).
site="$out/opt/venv/lib/python3.11/site-packages"
for tree in "$out$stdlib" "$site"; do
  find "$tree" -name __pycache__ -not -path "$site/authgate/*" -prune -exec rm -rf {} +
  "$py" -m compileall -q -b -j 0 -x '/authgate/' "$tree" >/dev/null
  find "$tree" -name '*.py' -not -path "$site/authgate/*" -delete
done

# Shared libraries: everything ldd resolves for the binaries and extension modules.
libs=$(mktemp)
{
  for f in "$py" /bin/dash /usr/bin/id; do echo "$f"; done
  find "$stdlib/lib-dynload" /opt/venv -name '*.so*' -type f
} | while read -r f; do
  ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
done | sort -u > "$libs"
while read -r lib; do
  real=$(readlink -f "$lib")
  case "$lib" in /lib/*) dest="/usr$lib" ;; *) dest="$lib" ;; esac
  mkdir -p "$out$(dirname "$dest")"
  cp -L "$real" "$out$dest"
done < "$libs"
rm -f "$libs"
# The loader's canonical path (/lib64 -> usr/lib64).
[ -e "$out/usr/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$out/usr/lib64/"

# TLS trust: the system bundle where OpenSSL's defaults point.
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
ln -s /etc/ssl/certs/ca-certificates.crt "$out/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$out/usr/lib/ssl/certs"
[ -f /etc/ssl/openssl.cnf ] && cp -L /etc/ssl/openssl.cnf "$out/etc/ssl/openssl.cnf" && \
  ln -s /etc/ssl/openssl.cnf "$out/usr/lib/ssl/openssl.cnf"

cat > "$out/etc/passwd" <<'P'
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:65532:65532:authgate:/tmp:/usr/sbin/nologin
P
cat > "$out/etc/group" <<'G'
root:x:0:
nonroot:x:65532:
G
echo 'hosts: files dns' > "$out/etc/nsswitch.conf"

# The assembled tree must run on its own.
chroot "$out" /opt/venv/bin/python -c 'import ssl, kopf, kubernetes.client, aiohttp, authgate.operator.runner, authgate.proxy.runner, authgate.client.cli; ssl.create_default_context()'
chroot "$out" /opt/venv/bin/authgate --help >/dev/null
chroot "$out" /opt/venv/bin/authgate operator crd >/dev/null
chroot "$out" /bin/sh -c 'id -un 65532'
du -sh "$out"
