#!/usr/bin/env bash
# Installs a CPython that the machine's own distribution lacks (3.14 on Debian
# 12, say) from Debian unstable's binary packages, without touching the system:
# the packages are unpacked into PREFIX (default /opt/pythonV) with the C
# library and shared libraries they need, and the interpreter is pointed at them
# (patchelf: its ELF interpreter and an RPATH into PREFIX, which extension
# modules loaded into it inherit). scripts/test-versions.sh then finds
# PREFIX/bin/pythonV.
#
# Usage: bash scripts/debian-python.sh 3.14 [PREFIX]
# Needs apt-get, dpkg-deb and patchelf; apt runs with a private state directory,
# so the system's apt sources and lists are left as they are.
#
# Why binaries: on this project's machines the archive serves unstable's .deb
# files but not the python3.14 source tarball (404), and python.org and
# GitHub are unreachable, so "apt-get source && ./configure" is not possible.
set -euo pipefail
v="${1:?usage: debian-python.sh 3.NN [PREFIX]}"
prefix="${2:-/opt/python$v}"
suite="${NDBIND_DEBIAN_SUITE:-sid}"
mirror="${NDBIND_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { printf 'debian-python: %s\n' "$*"; }

for tool in apt-get dpkg-deb patchelf; do
    command -v "$tool" >/dev/null || { log "needs $tool (apt-get install $tool)"; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{lists/partial,archives/partial,debs,etc/preferences.d,etc/apt.conf.d}
printf 'deb [signed-by=%s] %s %s main\n' "${NDBIND_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}" "$mirror" "$suite" >"$work/etc/sources.list"
touch "$work/status"
apt_opts=(
    -o "Dir::Etc=$work/etc" -o "Dir::Etc::sourcelist=$work/etc/sources.list"
    -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists"
    -o "Dir::State::status=$work/status" -o "Dir::Cache=$work"
    -o "Dir::Cache::archives=$work/archives" -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1"
)
log "reading $suite's package index from $mirror"
apt-get "${apt_opts[@]}" -q update 2>&1 >/dev/null | { ! grep -E "^(W|E):"; }

# The interpreter, its standard library, venv's pip wheel, and the shared
# libraries its modules link (the C library first: the binaries need its version).
pkgs=(
    "python$v" "python$v-minimal" "libpython$v-minimal" "libpython$v-stdlib" "python$v-venv"
    python3-pip-whl python3-setuptools-whl
    libc6 libgcc-s1 libstdc++6 libssl3t64 libffi8 libexpat1 zlib1g libzstd1 liblzma5 libbz2-1.0
    libsqlite3-0 libncursesw6 libtinfo6 libreadline8t64 libuuid1 libdb5.3t64 libmpdec4
)
log "downloading ${#pkgs[@]} packages"
(cd "$work/debs" && apt-get "${apt_opts[@]}" -q download "${pkgs[@]}" >/dev/null)

rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
lib="$prefix/usr/lib/x86_64-linux-gnu"
exe="$prefix/usr/bin/python$v"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$exe"
# ensurepip (venv) looks for pip's wheel where the build configured it: here.
for f in "$prefix"/usr/lib/python"$v"/_sysconfigdata_*.py; do
    sed -i "s|'/usr/share/python-wheels/'|'$prefix/usr/share/python-wheels/'|" "$f"
done
rm -rf "$prefix"/usr/lib/python"$v"/__pycache__/_sysconfigdata_*
mkdir -p "$prefix/bin"
ln -sfn "../usr/bin/python$v" "$prefix/bin/python$v"
"$prefix/bin/python$v" -c 'import ssl, sqlite3, ctypes, decimal, lzma, bz2, zlib, venv, ensurepip'
log "installed $("$prefix/bin/python$v" --version) as $prefix/bin/python$v"
