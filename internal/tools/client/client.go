package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Client is a connection to the gateway with the saved session and the
// local queue. Close it when done: the queue file is locked while open.
type Client struct {
	Config  Config
	Conn    *grpc.ClientConn
	API     strifev1.GatewayServiceClient
	Session *Session // nil before login; replaced only under sessionMu once a watch runs
	Queue   *Queue   // nil until OpenQueue
	sendMu  sync.Mutex

	// sessionMu guards Session while a watch runs: it may replace the
	// session (a new login) while the sender reads the token.
	sessionMu sync.Mutex
}

// Open loads the session, if any, and completes cfg: what the flags do not
// say is taken from the environment ($STRIFE_GATEWAY, $STRIFE_CERTS), then
// from the session (the gateway, certificate directory and certificate
// name the login used), then from the defaults. It does not dial (Dial).
func Open(cfg Config) (*Client, error) {
	cfg.fromEnv()
	s, err := LoadSession(cfg.StateDir)
	if err == nil {
		cfg.fromSession(s)
		cfg.CertName = cmp.Or(cfg.CertName, s.CertName)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{Config: cfg, Session: s}, nil
}

// Dial connects with certificate name (Config.CertName when empty).
func (c *Client) Dial(name string) error {
	if name == "" {
		name = c.Config.CertName
	}
	if name == "" {
		return usagef("no certificate name: give --cert-name")
	}
	c.Config.CertName = name
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(c.Config.CertsDir, name), "")
	if err != nil {
		// The certs package's prefix is for logs, not for the person here.
		return fmt.Errorf("cannot load certificate %q from %s: %s (give --certs and --cert-name)", name, c.Config.CertsDir, strings.TrimPrefix(err.Error(), "certs: "))
	}
	conn, err := rpc.Dial(c.Config.Gateway, tlsConfig)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", c.Config.Gateway, err)
	}
	c.Conn, c.API = conn, strifev1.NewGatewayServiceClient(conn)
	return nil
}

// OpenQueue opens <state dir>/queue.db.
func (c *Client) OpenQueue() error {
	if err := os.MkdirAll(c.Config.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	q, err := OpenQueue(filepath.Join(c.Config.StateDir, "queue.db"))
	c.Queue = q
	return err
}

// Close closes the connection and the queue.
func (c *Client) Close() error {
	var errs []error
	if c.Conn != nil {
		errs = append(errs, c.Conn.Close())
	}
	if c.Queue != nil {
		errs = append(errs, c.Queue.Close())
	}
	return errors.Join(errs...)
}

// Login checks the password and saves the session (0600).
func (c *Client) Login(ctx context.Context, user, password string) (*Session, error) {
	resp, err := c.API.Login(ctx, &strifev1.LoginRequest{Username: user, Password: password})
	if err != nil {
		switch status.Code(err) {
		case codes.Unauthenticated:
			return nil, gatewayError(err, "login refused: wrong user or password")
		case codes.ResourceExhausted:
			// Not a verdict on the password: it was not even checked.
			return nil, fmt.Errorf("%w: %s", ErrTryLater, retryText(err))
		}
		return nil, c.Explain(err)
	}
	certsDir, err := filepath.Abs(c.Config.CertsDir)
	if err != nil {
		return nil, err
	}
	s := &Session{
		Token: resp.GetToken(), User: resp.GetUser().GetUsername(), Role: roleText(resp.GetUser().GetRole()),
		CertName: c.Config.CertName, ExpiresAt: resp.GetExpiresAt().AsTime(),
		Gateway: c.Config.Gateway, CertsDir: certsDir,
	}
	if err := SaveSession(c.Config.StateDir, s); err != nil {
		return nil, err
	}
	c.Session = s
	return s, nil
}

func roleText(r strifev1.UserRole) string {
	if name := auth.RoleName(r); name != "" {
		return name
	}
	return "unknown"
}

// Auth adds the session's token to ctx.
func (c *Client) Auth(ctx context.Context) context.Context {
	c.sessionMu.Lock()
	s := c.Session
	c.sessionMu.Unlock()
	if s == nil {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Token)
}

// Logout revokes the session's token at the gateway. A token the gateway
// refuses already is as good as revoked: that is not an error.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.API.Logout(c.Auth(ctx), &strifev1.LogoutRequest{})
	if err != nil && status.Code(err) != codes.Unauthenticated {
		return c.Explain(err)
	}
	return nil
}

// CheckSession reports ErrNotLoggedIn or ErrLoginAgain (expired token).
func (c *Client) CheckSession() error {
	if c.Session == nil {
		return ErrNotLoggedIn
	}
	if !c.Session.ExpiresAt.IsZero() && time.Now().After(c.Session.ExpiresAt) {
		return ErrLoginAgain
	}
	return nil
}

// Sender returns a Sender over this client's queue and connection.
func (c *Client) Sender() *Sender {
	return &Sender{Queue: c.Queue, API: c.API, Conn: c.Conn, Auth: c.Auth, Lock: &c.sendMu}
}

// Explain turns an RPC error into one line that says what to do next: a
// GatewayError, which keeps the gRPC code for --json, or ErrLoginAgain or
// ErrTryLater.
func (c *Client) Explain(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch {
	case Unreachable(err):
		return gatewayError(err, "cannot reach the gateway at %s: is it running? (%s)", c.Config.Gateway, CodeName(st.Code()))
	case st.Code() == codes.Unauthenticated:
		return ErrLoginAgain
	case st.Code() == codes.PermissionDenied:
		return gatewayError(err, "not allowed: %s", gatewayMessage(err))
	case st.Code() == codes.ResourceExhausted:
		return fmt.Errorf("%w: %s", ErrTryLater, retryText(err))
	}
	return gatewayError(err, "")
}

// RetryAfter is how long the gateway asked to wait before trying again
// (the google.rpc.RetryInfo detail of a RESOURCE_EXHAUSTED answer), and
// whether it said.
func RetryAfter(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok && info.GetRetryDelay() != nil {
			return info.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// retryText says when to try again after a RESOURCE_EXHAUSTED answer, in
// local time, and why the gateway refused.
func retryText(err error) string {
	msg := status.Convert(err).Message()
	wait, ok := RetryAfter(err)
	if !ok {
		return msg
	}
	return fmt.Sprintf("try again in %v, at %s (%s)", wait, time.Now().Add(wait).Local().Format(time.TimeOnly), msg)
}
