#!/usr/bin/env bash
# Refreshes assets/ from the swagger-ui-dist package of the npm registry at
# the version and integrity named below; run it after changing both, and
# change Version in swaggerui.go to match.
set -euo pipefail
cd "$(dirname "$0")"
version=5.35.0
integrity=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tarball="$tmp/swagger-ui-dist-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$got" != "$integrity" ]]; then
	echo "integrity mismatch: got $got" >&2
	exit 1
fi
tar -xzf "$tarball" -C "$tmp"
for f in swagger-ui-bundle.js swagger-ui.css; do
	gzip -9n -c "$tmp/package/$f" >"assets/$f.gz"
done
cp "$tmp/package/LICENSE" "$tmp/package/NOTICE" "$tmp/package/swagger-ui-bundle.js.LICENSE.txt" assets/
