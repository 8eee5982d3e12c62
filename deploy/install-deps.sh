#!/bin/sh
# Install the Debian packages tollgate needs to build, test and run.
# Idempotent: only packages that are not installed yet are passed to apt-get.
# Non-interactive: Postfix's debconf questions are pre-answered (local only).
# Usage: deploy/install-deps.sh [build|test|all]   (default: all)
set -eu

BUILD_PKGS="build-essential pkg-config libmilter-dev libspf2-dev libhiredis-dev \
libpcre2-dev libvectorscan-dev check"
TEST_PKGS="redis-server miltertest postfix swaks spamassassin clang libxml2-utils \
libclang-rt-14-dev"

case "${1:-all}" in
    build) want="$BUILD_PKGS" ;;
    test)  want="$TEST_PKGS" ;;
    all)   want="$BUILD_PKGS $TEST_PKGS" ;;
    *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix must not prompt and must not be configured to relay anywhere.
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

echo "install-deps: installing:$missing"
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# The distribution starts services on install; tollgate's tests start their
# own instances on private ports, so stop the system ones this run has just
# installed -- never one that was installed (and perhaps serving mail)
# before.
for svc in redis-server postfix; do
    case " $missing " in *" $svc "*) ;; *) continue ;; esac
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" 2>/dev/null || true
    fi
done
echo "install-deps: done"
