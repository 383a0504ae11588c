#!/usr/bin/env bash
# Installs what the tests and the tutorial need on a fresh Debian machine
# (MariaDB server and client, sysbench, Prometheus with promtool), when
# missing. Needs root for apt-get.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mariadbd || missing+=(mariadb-server)
have mariadb-install-db || missing+=(mariadb-server)
have mariadb || missing+=(mariadb-client)
have sysbench || missing+=(sysbench)
have prometheus || missing+=(prometheus)
have promtool || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The packages start no server here: the tests start their own, each in a temp dir.
apt-get install -y -qq "${missing[@]}" >/dev/null
