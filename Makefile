.PHONY: proto proto-verify test ci

# Regenerate the .pb.go files from proto/**/*.proto.
proto:
	proto/gen.sh

# Fail if the committed .pb.go files differ from a fresh generation.
proto-verify:
	proto/verify.sh

# The test command of README.md.
test:
	go test -race ./...

# What CI runs.
ci:
	.ci/run
