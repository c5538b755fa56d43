#!/usr/bin/env bash
# Fails if the committed generated code differs from what proto/gen.sh makes.
# Generating into a temp dir leaves the work tree alone and, unlike
# `git diff`, also works before the files are committed.
set -euo pipefail

PROTO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PROTO_DIR/gen.sh" "$TMP/generated"

# Only *.pb.go files are compared, so that a missing or extra generated
# file shows up as "Only in ..." while .proto and scripts are ignored.
mkdir "$TMP/committed"
(cd "$PROTO_DIR" && find . -name '*.pb.go' -exec cp --parents {} "$TMP/committed" \;)

if ! (cd "$TMP" && diff -r committed generated); then
  echo "generated protobuf code is stale: run proto/gen.sh" >&2
  exit 1
fi
echo "generated protobuf code is up to date"
