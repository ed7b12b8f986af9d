#!/usr/bin/env bash
# Install the system packages the test suite and benchmarks need on Debian
# bookworm: dovecot-imapd (dovecot, doveadm for tests/servers), isync (mbsync,
# for a benchmark), chromium (headless browser security tests), and the
# scale-out shape's servers: postgresql and redis-server.
#
# Idempotent: installs only what is missing, and runs apt-get update only if
# something must be installed. Runs as root, or through sudo otherwise.
# Another apt/dpkg run in progress is waited for (up to 10 minutes) rather
# than treated as an error.
#
# Installing dovecot-imapd may start the system Dovecot on port 143; that is
# harmless, the tests start their own instance on a free loopback port.
set -euo pipefail

LOCK_TIMEOUT=600

# dpkg lives in /usr/sbin, which is not on a normal user's PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# installed PACKAGE COMMAND...: whether dpkg has PACKAGE installed, or any of
# the COMMANDs is on PATH (e.g. from another source).
installed() {
    local package=$1 cmd
    shift
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null) == installed ]]; then
        return 0
    fi
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 && return 0
    done
    return 1
}

missing=()
installed dovecot-imapd || missing+=(dovecot-imapd)
installed isync mbsync || missing+=(isync)
installed chromium chromium chromium-browser || missing+=(chromium)
installed postgresql pg_ctlcluster || missing+=(postgresql)
installed redis-server redis-server || missing+=(redis-server)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps: dovecot-imapd, isync, chromium, postgresql and redis-server are already installed"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-test-deps: run as root or install sudo" >&2
    exit 1
fi

apt_get() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" "$@"
}

# apt-get update takes the package-lists lock, which DPkg::Lock::Timeout does
# not cover on every apt version: retry while another apt holds it.
update() {
    local deadline=$((SECONDS + LOCK_TIMEOUT)) output
    while true; do
        if output=$(apt_get update 2>&1); then
            return 0
        fi
        if [[ $output != *"Could not get lock"* || $SECONDS -ge $deadline ]]; then
            printf '%s\n' "$output" >&2
            return 1
        fi
        echo "install-test-deps: waiting for another apt run to finish..."
        sleep 5
    done
}

echo "install-test-deps: installing ${missing[*]}"
update
apt_get install -y --no-install-recommends "${missing[@]}"

# dovecot-imapd must provide both binaries the fixtures call.
for bin in dovecot doveadm; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "install-test-deps: $bin missing after installing dovecot-imapd" >&2
        exit 1
    fi
done
