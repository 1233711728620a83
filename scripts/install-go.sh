#!/bin/sh
# Installs Go 1.23 from bookworm-backports when missing, for the suites written in Go that
# rind is tested with (runtime-tools' validation suite, runc's helper programs, cri-tools).
# Debian 12's own Go is 1.19, older than their go.mod files ask for. Prints the go binary.
set -eu
go=/usr/lib/go-1.23/bin/go
if [ ! -x "$go" ]; then
    src=/etc/apt/sources.list.d/rind-backports.sources
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        cat > "$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    echo "installing: golang-1.23-go (bookworm-backports)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-1.23-go >/dev/null
fi
echo "$go"
