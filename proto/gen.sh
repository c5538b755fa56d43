#!/usr/bin/env bash
# Regenerates every *.pb.go and *_grpc.pb.go next to its .proto file.
# Usage: proto/gen.sh [OUTDIR]   (OUTDIR defaults to proto/; verify.sh passes a temp dir)
set -euo pipefail

# --- Pinned tool versions: change them here, then rerun this script. ---
# protoc's version is written into every generated header, so any other
# protoc would make verify.sh fail; Debian bookworm's package is fixed at it.
PROTOC_VERSION=3.21.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
# protoc-gen-go must match the protobuf runtime the module builds against,
# so it is read from go.mod rather than pinned a second time.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROTOC_GEN_GO_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
# -----------------------------------------------------------------------

PROTO_DIR=$ROOT/proto
OUT=$(mkdir -p "${1:-$PROTO_DIR}" && cd "${1:-$PROTO_DIR}" && pwd)
BIN=$ROOT/.bin
WKT_INCLUDE=/usr/include  # google/protobuf/*.proto, from libprotobuf-dev

# The well-known .proto files are in libprotobuf-dev, which protobuf-compiler
# only recommends, so ask for both explicitly.
if ! command -v protoc >/dev/null || [[ ! -f $WKT_INCLUDE/google/protobuf/timestamp.proto ]]; then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y protobuf-compiler libprotobuf-dev
fi
if [[ $(protoc --version) != "libprotoc $PROTOC_VERSION" ]]; then
  echo "gen.sh: need protoc $PROTOC_VERSION, found '$(protoc --version)' at $(command -v protoc)" >&2
  exit 1
fi

# Plugins go in the repo's .bin/ and are passed by path, so whatever
# protoc-gen-* happens to be on PATH can never be used by mistake.
install_plugin() { # name package version version-output
  if [[ $("$BIN/$1" --version 2>/dev/null) != "$4" ]]; then
    GOBIN=$BIN go install "$2@$3"
  fi
}
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go \
  "$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  "$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"

# Stale outputs of deleted .proto files must not survive regeneration.
find "$OUT" -name '*.pb.go' -delete

# Paths relative to the import root, in a fixed order, because protoc writes
# them into the generated files ("source: strife/v1/bank.proto").
cd "$PROTO_DIR"
mapfile -t PROTOS < <(find . -name '*.proto' -printf '%P\n' | LC_ALL=C sort)
protoc -I . -I "$WKT_INCLUDE" \
  --plugin=protoc-gen-go="$BIN/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$BIN/protoc-gen-go-grpc" \
  --go_out="$OUT" --go_opt=paths=source_relative \
  --go-grpc_out="$OUT" --go-grpc_opt=paths=source_relative \
  "${PROTOS[@]}"
