// Package rpc is the gRPC plumbing shared by Strife's servers and clients:
// mutual-TLS servers that also serve grpc.health.v1 and reflection, the
// caller's certificate identity, and the one place where Go errors become
// gRPC status codes.
//
// A login token travels in the "authorization" metadata as "Bearer
// <token>" (BearerToken). The scheme is matched in any case ("bearer",
// "BEARER"), as RFC 7235 section 2.1 and RFC 6750 section 2.1 say an
// authentication scheme is; one or more spaces separate it from the token.
package rpc
