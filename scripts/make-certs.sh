#!/usr/bin/env bash
# Makes the certificates of a cluster with the openssl command: one CA per
# directory, then one certificate per process or client, signed by it.
#
#   scripts/make-certs.sh DIR NAME [COMMON_NAME] [HOSTS]
#
# DIR/ca.pem and DIR/ca.key are created on the first call (the CA's name is
# DIR's base name). DIR/NAME.pem and DIR/NAME.key are the certificate and its
# key: common name COMMON_NAME (default NAME), valid as a server for HOSTS
# (comma-separated host names and IP addresses; default
# localhost,127.0.0.1) and as a client, for 825 days. Keys are EC P-256,
# PKCS#8, readable by their owner only.
#
# Every master, worker and dmctl of a cluster uses a certificate signed by
# the same CA (`ssl-ca` names ca.pem); `cert-allowed-cn` lists the common
# names a master accepts from its clients. README.md, "Security", shows a
# whole cluster.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    echo "usage: $0 DIR NAME [COMMON_NAME] [HOSTS]" >&2
    exit 2
fi
dir=$1
name=$2
common_name=${3:-$2}
hosts=${4:-localhost,127.0.0.1}
days=825

umask 077
mkdir -p "$dir"

if [ ! -f "$dir/ca.pem" ]; then
    openssl req -x509 -new -nodes -days "$days" \
        -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -subj "/CN=$(basename "$dir") CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

san=""
IFS=',' read -r -a host_list <<<"$hosts"
for host in "${host_list[@]}"; do
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then
        san+="${san:+,}IP:$host"
    else
        san+="${san:+,}DNS:$host"
    fi
done

extensions=$(mktemp)
trap 'rm -f "$extensions" "$dir/$name.csr"' EXIT
cat >"$extensions" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EOF

openssl req -new -nodes \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" \
    -subj "/CN=$common_name" 2>/dev/null
openssl x509 -req -in "$dir/$name.csr" -days "$days" \
    -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -extfile "$extensions" -out "$dir/$name.pem" 2>/dev/null
# Servers that run as another user (a database) read their key through a
# copy the caller makes; the CA certificate and certificates are public.
chmod 0644 "$dir/ca.pem" "$dir/$name.pem"
echo "$dir/$name.pem $dir/$name.key (CN=$common_name, $san)"
