// Package rpc is the gRPC plumbing shared by Strife's servers and clients:
// mutual-TLS servers that also serve grpc.health.v1 and reflection, the
// caller's certificate identity, and the one place where Go errors become
// gRPC status codes.
package rpc
