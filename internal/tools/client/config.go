package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/strife-pay/strife/certs"
)

// Defaults of Config.
const (
	DefaultGateway  = "127.0.0.1:7000"
	DefaultCertsDir = "strife-data/certs" // where `strife up` writes them
	// StateEnv, when set, is the default state directory.
	StateEnv = "STRIFE_STATE"
	// GatewayEnv and CertsEnv, when set, are the gateway address and the
	// certificate directory of a command that does not give them as flags.
	GatewayEnv = "STRIFE_GATEWAY"
	CertsEnv   = "STRIFE_CERTS"
)

// Errors about the local state.
var (
	ErrConfig      = errors.New("bad configuration")
	ErrNotLoggedIn = errors.New("not logged in: run `strife login --user <name>`")
	ErrLoginAgain  = errors.New("the login has expired or was refused: log in again with `strife login`")
	// ErrTryLater: the gateway refused without looking at the request (too
	// many failed logins, or too many logins at once); the error's text
	// says when to try again (see RetryAfter).
	ErrTryLater = errors.New("refused for now")
)

// Config is where the client finds the gateway, its certificate and its
// state directory.
type Config struct {
	// Gateway is the gateway's address. Default $STRIFE_GATEWAY, else the
	// one saved at login (Open), else DefaultGateway.
	Gateway string
	// CertsDir holds ca.crt and <CertName>.crt/.key. Default $STRIFE_CERTS,
	// else the one saved at login (Open), else DefaultCertsDir.
	CertsDir string
	// CertName is the client program's certificate name. Default: the
	// name saved at login, else the user logging in.
	CertName string
	// StateDir holds session.json (the token, 0600) and queue.db. Default
	// $STRIFE_STATE, else ~/.strife.
	StateDir string
	// JSON asks for machine-readable output.
	JSON bool
}

// DefaultStateDir is $STRIFE_STATE, else ~/.strife.
func DefaultStateDir() string {
	if dir := os.Getenv(StateEnv); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".strife"
	}
	return filepath.Join(home, ".strife")
}

// Validate fills in the defaults ($STRIFE_GATEWAY, $STRIFE_CERTS and
// $STRIFE_STATE first) and rejects a bad CertName (ErrConfig, a usage
// error). Open fills in what the session saved before the defaults.
func (c *Config) Validate() error {
	c.fromEnv()
	if c.Gateway == "" {
		c.Gateway = DefaultGateway
	}
	if c.CertsDir == "" {
		c.CertsDir = DefaultCertsDir
	}
	if c.CertName != "" {
		if err := certs.CheckName(c.CertName); err != nil {
			return &UsageError{fmt.Errorf("%w: --cert-name: %v", ErrConfig, err)}
		}
	}
	return nil
}

// fromEnv fills in what the environment gives and the flags did not.
func (c *Config) fromEnv() {
	c.Gateway = cmp.Or(c.Gateway, os.Getenv(GatewayEnv))
	c.CertsDir = cmp.Or(c.CertsDir, os.Getenv(CertsEnv))
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir()
	}
}

// fromSession fills in, after the flags and the environment, the gateway
// and certificate directory the login used: the same place, without
// saying it again.
func (c *Config) fromSession(s *Session) {
	c.fromEnv()
	c.Gateway = cmp.Or(c.Gateway, s.Gateway)
	c.CertsDir = cmp.Or(c.CertsDir, s.CertsDir)
}

// Session is what login leaves in the state directory. Gateway and
// CertsDir were added later: a session saved without them loads, and the
// commands then fall back to the defaults.
type Session struct {
	Token     string    `json:"token"`
	User      string    `json:"user"`
	Role      string    `json:"role"`
	CertName  string    `json:"cert_name"`
	ExpiresAt time.Time `json:"expires_at"`
	// Gateway is the address the login used.
	Gateway string `json:"gateway,omitempty"`
	// CertsDir is the certificate directory the login used, made absolute
	// so that it holds from any working directory.
	CertsDir string `json:"certs_dir,omitempty"`
}

func sessionPath(stateDir string) string { return filepath.Join(stateDir, "session.json") }

// LoadSession reads the saved session, or ErrNotLoggedIn.
func LoadSession(stateDir string) (*Session, error) {
	data, err := os.ReadFile(sessionPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLoggedIn
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	var s Session
	if err := json.Unmarshal(data, &s); err != nil || s.Token == "" {
		return nil, ErrNotLoggedIn
	}
	return &s, nil
}

// SaveSession writes the session with mode 0600, atomically.
func SaveSession(stateDir string, s *Session) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return certs.WriteFileAtomic(sessionPath(stateDir), data, 0o600)
}

// DeleteSession forgets the token.
func DeleteSession(stateDir string) error {
	err := os.Remove(sessionPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
