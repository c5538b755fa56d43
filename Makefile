.PHONY: proto proto-verify

# Regenerate the .pb.go files from proto/**/*.proto.
proto:
	proto/gen.sh

# Fail if the committed .pb.go files differ from a fresh generation.
proto-verify:
	proto/verify.sh
