package discovery

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/strife-pay/strife/certs"
)

// ClientConfig says how to reach etcd. No endpoints means no etcd: the
// daemons then use their static configuration.
type ClientConfig struct {
	// Endpoints are etcd's client URLs, e.g. https://etcd-1:2379.
	Endpoints []string
	// CAFile verifies etcd's server certificate (default: the system's
	// roots, for https endpoints). CertFile and KeyFile, given together,
	// are the client certificate etcd may require.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds connecting to etcd, and a daemon's first
	// registration at start. Default 5s.
	DialTimeout time.Duration
}

// Timeout is DialTimeout or its default.
func (c ClientConfig) Timeout() time.Duration {
	if c.DialTimeout == 0 {
		return 5 * time.Second
	}
	return c.DialTimeout
}

// Enabled reports whether etcd is configured.
func (c ClientConfig) Enabled() bool { return len(c.Endpoints) > 0 }

// Validate rejects an incomplete TLS configuration and bad endpoints.
func (c ClientConfig) Validate() error {
	var errs []error
	for _, ep := range c.Endpoints {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			errs = append(errs, fmt.Errorf("etcd endpoint %q is not an http:// or https:// URL", ep))
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("etcd client certificate and key must be given together"))
	}
	if !c.Enabled() && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
		errs = append(errs, errors.New("etcd TLS files given without etcd endpoints"))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, errors.New("etcd dial timeout is negative"))
	}
	return errors.Join(errs...)
}

// perRetry are the etcd client's warnings written at every failed try of a
// call while etcd cannot be reached. The caller gets the error and says,
// once, what it means (Registration logs its changes of state): a line per
// try would fill the log during an outage.
var perRetry = []string{"retrying of unary invoker failed", "retrying RecvMsg"}

// NewClient connects to etcd. It does not wait for etcd to answer: the
// first call does. The client logs etcd's warnings and errors to log.
func NewClient(c ClientConfig, log zerolog.Logger) (*clientv3.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if !c.Enabled() {
		return nil, errors.New("discovery: no etcd endpoints")
	}
	tlsConfig, err := c.tls()
	if err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.Timeout(),
		TLS:         tlsConfig,
		// grpc's default reconnect backoff grows to 2 minutes: after an
		// outage, etcd would be back long before its clients noticed.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: c.Timeout(),
		})},
		Logger: ZapLogger(log.With().Str("component", "etcd-client").Logger(), zapcore.WarnLevel).
			WithOptions(dropMessages(perRetry...)),
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: etcd client: %w", err)
	}
	return client, nil
}

// tls is the client's TLS configuration: nil for plain http endpoints
// without TLS files.
func (c ClientConfig) tls() (*tls.Config, error) {
	https := false
	for _, ep := range c.Endpoints {
		https = https || strings.HasPrefix(ep, "https://")
	}
	if !https && c.CAFile == "" && c.CertFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := certs.LoadPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("discovery: etcd CA: %w", err)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("discovery: etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Flags binds the etcd options every daemon takes to fs: the client
// configuration, the address to register (advertise) and the lease TTL.
// what names the daemon in the help ("bank", "gateway").
func Flags(fs *pflag.FlagSet, cfg *ClientConfig, advertise *string, ttl *time.Duration, what, purpose string) {
	fs.StringSliceVar(&cfg.Endpoints, "etcd-endpoints", nil, "etcd client URLs, comma-separated: "+purpose)
	fs.StringVar(&cfg.CAFile, "etcd-ca", "", "CA certificate that etcd's server certificate must chain to (PEM)")
	fs.StringVar(&cfg.CertFile, "etcd-cert", "", "client certificate for etcd (PEM)")
	fs.StringVar(&cfg.KeyFile, "etcd-key", "", "client key for etcd (PEM)")
	fs.StringVar(advertise, "advertise", "", "address registered in etcd (default: the listen address)")
	fs.DurationVar(ttl, "lease-ttl", DefaultTTL, "TTL of the etcd lease: how long a crashed "+what+" stays registered")
}
