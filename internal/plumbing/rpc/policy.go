package rpc

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
)

// Rule says who may call a method.
type Rule struct {
	// Programs are the certificate roles that may call it.
	Programs []certs.Role
	// Users, if not empty, requires a login token of a user with one of
	// these roles (auth.RoleCustomer, auth.RoleAdmin), issued over the
	// caller's certificate.
	Users []string
}

// Policy maps full gRPC method names ("/strife.v1.BankService/Prepare") to
// who may call them. A method that is not listed is refused: deny by
// default, so a new method is unreachable until someone decides who may
// call it.
type Policy map[string]Rule

var (
	anyProgram = []certs.Role{certs.RoleClient, certs.RoleAdmin, certs.RoleGateway, certs.RoleBank}
	people     = []certs.Role{certs.RoleClient, certs.RoleAdmin}
	gateway    = []certs.Role{certs.RoleGateway}
	anyUser    = []string{auth.RoleCustomer, auth.RoleAdmin}
)

// DefaultPolicy is Strife's policy: banks serve only the gateway, the
// coordinator answers only banks, clients reach only the gateway's
// GatewayService and need a login for everything but Login, and health and
// reflection are open to any verified certificate.
var DefaultPolicy = Policy{
	"/strife.v1.BankService/OpenAccount":    {Programs: gateway},
	"/strife.v1.BankService/UpdateAccount":  {Programs: gateway},
	"/strife.v1.BankService/GetAccount":     {Programs: gateway},
	"/strife.v1.BankService/ListEntries":    {Programs: gateway},
	"/strife.v1.BankService/Prepare":        {Programs: gateway},
	"/strife.v1.BankService/Commit":         {Programs: gateway},
	"/strife.v1.BankService/Abort":          {Programs: gateway},
	"/strife.v1.BankService/Batch":          {Programs: gateway},
	"/strife.v1.BankService/ResolveAttempt": {Programs: gateway},

	"/strife.v1.CoordinatorService/GetDecision": {Programs: []certs.Role{certs.RoleBank}},

	"/strife.v1.GatewayService/Login":               {Programs: people},
	"/strife.v1.GatewayService/RegisterClient":      {Programs: people, Users: []string{auth.RoleAdmin}},
	"/strife.v1.GatewayService/UpdateClientDetails": {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/GetBalance":          {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/Pay":                 {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/GetPayment":          {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/ListPayments":        {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/WatchPayments":       {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/Logout":              {Programs: people, Users: anyUser},
	"/strife.v1.GatewayService/LockUser":            {Programs: people, Users: []string{auth.RoleAdmin}},

	"/grpc.health.v1.Health/Check":                                   {Programs: anyProgram},
	"/grpc.health.v1.Health/Watch":                                   {Programs: anyProgram},
	"/grpc.health.v1.Health/List":                                    {Programs: anyProgram},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Programs: anyProgram},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Programs: anyProgram},
}

// TokenVerifier checks a login token presented over a connection whose
// client certificate is cert (auth.Signer is one; auth.TokenCache is one
// that remembers the tokens it accepted and checks revocations).
type TokenVerifier interface {
	Verify(token string, cert *x509.Certificate) (auth.Token, error)
}

// Principal is who is calling, as proven by the certificate and, where the
// method needs one, the login token.
type Principal struct {
	Program     string
	ProgramRole certs.Role
	User        string // empty for methods that need no login
	UserRole    string
	Token       auth.Token // the login token, for methods that need one
	Cert        *x509.Certificate
}

type principalKey struct{}

// PrincipalFrom returns the caller authorized by the policy interceptor.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authorize checks the caller in ctx against the rule for method and
// returns ctx carrying the Principal. It returns a status error:
// UNAUTHENTICATED without a verified certificate naming a role, or without
// a valid login token where one is needed; PERMISSION_DENIED for a method
// not in the policy or a role the rule does not list. tokens may be nil on
// servers that have no method needing a login. Authorize logs nothing; the
// interceptors (Interceptors) log why a token was refused.
func (p Policy) Authorize(ctx context.Context, method string, tokens TokenVerifier) (context.Context, error) {
	ctx, _, err := p.authorize(ctx, method, tokens, zerolog.Nop())
	return ctx, err
}

// Reasons of a refusal by the policy, as the label of
// strife_auth_refusals_total (see Metrics).
const (
	RefusedNoCertificate    = "no_certificate"    // no verified certificate naming a role
	RefusedNotInPolicy      = "not_in_policy"     // a method nobody may call
	RefusedWrongProgram     = "wrong_program"     // the certificate's role may not call it
	RefusedNoToken          = "no_token"          // a login is needed and no token came
	RefusedBadToken         = "bad_token"         // forged, malformed, or not from this gateway
	RefusedExpired          = "expired"           // the token's time is over
	RefusedWrongCertificate = "wrong_certificate" // the token was issued over another certificate
	RefusedRevoked          = "revoked"           // logged out, or the user's credentials changed
	RefusedLocked           = "locked"            // the user is locked
	RefusedWrongRole        = "wrong_role"        // the user's role may not call it
)

// authorize is Authorize, logging to log why a login token was refused and
// returning why the call was refused (one of the Refused reasons).
func (p Policy) authorize(ctx context.Context, method string, tokens TokenVerifier, log zerolog.Logger) (context.Context, string, error) {
	cert, name, role, err := peerCertificate(ctx)
	if err != nil {
		return nil, RefusedNoCertificate, status.Error(codes.Unauthenticated, err.Error())
	}
	CallFrom(ctx).SetProgram(name, role)
	rule, ok := p[method]
	if !ok {
		return nil, RefusedNotInPolicy, status.Errorf(codes.PermissionDenied, "%s is not in the policy", method)
	}
	if !slices.Contains(rule.Programs, role) {
		return nil, RefusedWrongProgram, status.Errorf(codes.PermissionDenied, "a %s certificate may not call %s", role, method)
	}
	principal := Principal{Program: name, ProgramRole: role, Cert: cert}
	if len(rule.Users) > 0 {
		var reason string
		if principal.Token, reason, err = verifyToken(ctx, tokens, cert, log, method, name); err != nil {
			return nil, reason, err
		}
		principal.User, principal.UserRole = principal.Token.User, principal.Token.Role
		CallFrom(ctx).SetUser(principal.User, principal.UserRole)
		if !slices.Contains(rule.Users, principal.UserRole) {
			return nil, RefusedWrongRole, status.Errorf(codes.PermissionDenied, "a %s may not call %s", principal.UserRole, method)
		}
	}
	return context.WithValue(ctx, principalKey{}, principal), "", nil
}

// BearerToken returns the token of an authorization value in the Bearer
// scheme: "Bearer", in any case (an authentication scheme is
// case-insensitive, RFC 7235 section 2.1, which RFC 6750 section 2.1
// follows), one or more spaces, and a token that is not empty.
func BearerToken(value string) (string, bool) {
	scheme, token, ok := strings.Cut(value, " ")
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// verifyToken checks the "authorization: Bearer <token>" metadata of a call
// to method from program. The token itself never appears in an error or in
// the log. Why Verify refused a token (auth.ErrBadToken: expired, forged,
// malformed; auth.ErrWrongCertificate: presented over another certificate;
// auth.ErrRevoked: logged out, or the user's credentials changed) is logged
// at warn, passed through Redact; the caller is told only that the token is
// invalid, expired or revoked.
func verifyToken(ctx context.Context, tokens TokenVerifier, cert *x509.Certificate, log zerolog.Logger, method, program string) (auth.Token, string, error) {
	values := metadata.ValueFromIncomingContext(ctx, "authorization")
	token, ok := "", len(values) == 1
	if ok {
		token, ok = BearerToken(values[0])
	}
	if !ok {
		return auth.Token{}, RefusedNoToken, status.Error(codes.Unauthenticated, "a login token is required (authorization: Bearer <token>)")
	}
	if tokens == nil {
		return auth.Token{}, RefusedBadToken, status.Error(codes.Internal, "internal error")
	}
	t, err := tokens.Verify(token, cert)
	if err != nil {
		log.Warn().Str("method", method).Str("program", program).Str("error", Redact(err.Error())).Msg("login token refused")
		return auth.Token{}, tokenRefusal(err), status.Error(codes.Unauthenticated, TokenRefused)
	}
	return t, "", nil
}

// tokenRefusal is why Verify refused a token, as a Refused reason.
func tokenRefusal(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return RefusedExpired
	case errors.Is(err, auth.ErrWrongCertificate):
		return RefusedWrongCertificate
	case errors.Is(err, auth.ErrUserLocked):
		return RefusedLocked
	case errors.Is(err, auth.ErrRevoked):
		return RefusedRevoked
	}
	return RefusedBadToken
}

// TokenRefused is the message of the UNAUTHENTICATED status for a login
// token that is invalid, expired or revoked.
const TokenRefused = "invalid, expired or revoked login token; log in again"

// Interceptors return the unary and stream interceptors that enforce p. They
// log to log why a login token was refused (the audit line of the call has
// only the status the caller received).
func (p Policy) Interceptors(tokens TokenVerifier, log zerolog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	return p.interceptors(tokens, log, nil)
}

// interceptors are Interceptors that count each refusal in m (nil: not
// counted).
func (p Policy) interceptors(tokens TokenVerifier, log zerolog.Logger, m *Metrics) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		ctx, reason, err := p.authorize(ctx, info.FullMethod, tokens, log)
		if err != nil {
			m.refused(reason)
			return nil, err
		}
		return next(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, reason, err := p.authorize(ss.Context(), info.FullMethod, tokens, log)
		if err != nil {
			m.refused(reason)
			return err
		}
		return next(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
	return unary, stream
}

// contextStream is a ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
