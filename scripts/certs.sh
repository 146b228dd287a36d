#!/usr/bin/env bash
# Test certificates, made with openssl when missing: a CA, a server
# certificate for 127.0.0.1 and localhost, a client certificate (mutual TLS),
# and a second CA that signed none of them (for "unknown CA" tests). Keys are
# PKCS#8 PEM, unencrypted: for tests on loopback only.
#
#   scripts/certs.sh [DIR]   make them in DIR (default .cache/run/certs); prints DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$PWD/.cache/run/certs}
mkdir -p "$dir"
cd "$dir"
if [ -f server.pem ] && [ -f client.pem ] && [ -f other-ca.pem ]; then
	echo "$dir"
	exit 0
fi
days=30
ca() { # NAME
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days $days -subj "/CN=sumprimes test $1" 2>/dev/null
}
leaf() { # NAME CN EXT
	openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days $days -extfile <(printf '%s\n' "$3") 2>/dev/null
	rm -f "$1.csr"
}
ca ca
ca other-ca
leaf server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
leaf client sumprimes-test-client "extendedKeyUsage=clientAuth"
chmod 600 ./*.key
echo "$dir"
