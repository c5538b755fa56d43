package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/metrics"
)

// Config is what every daemon is configured with, whatever it serves. A
// daemon's own Config embeds it beside its own fields.
type Config struct {
	// Name is the daemon's name, e.g. "BankA" or "gateway-1". It should
	// match the CN of its certificate: it is how peers know it.
	Name string
	// Listen is the gRPC listen address, e.g. "127.0.0.1:7001" (port 0
	// picks one; see Server.Addr).
	Listen string
	// DataDir holds the daemon's bbolt file, <DataDir>/<Name>.db.
	DataDir string
	// TLS names the daemon's certificate, key, CA and revocation list
	// (default: ca.crl next to the CA). The certificate serves and is
	// presented to peers. Its Log is set to Log.
	TLS certs.Files
	// Etcd, if it has endpoints, is where the daemon registers, under
	// /strife/<service>/<Name>, and finds its peers.
	Etcd discovery.ClientConfig
	// Advertise is the address registered in etcd. Default: the address
	// the daemon listens on (give it when listening on 0.0.0.0).
	Advertise string
	// LeaseTTL is the TTL of the registration's lease: how long a crashed
	// daemon stays registered. Default 5s; etcd's minimum is 2s.
	LeaseTTL time.Duration
	// DrainTimeout bounds how long Stop waits for calls in flight. Default 10s.
	DrainTimeout time.Duration
	// MetricsListen, if set, is where the daemon serves its Prometheus
	// metrics, at /metrics over plain HTTP (see package metrics). Empty:
	// no metrics, and nothing is measured.
	MetricsListen string
	Log           zerolog.Logger
	// FailWrites is for tests: it makes the data file's commits fail as a
	// full disk would (see wal.Options.FailWrites). Nil in production.
	FailWrites func() error
}

// DefaultDrainTimeout is Config.DrainTimeout's default.
const DefaultDrainTimeout = 10 * time.Second

// WithDefaults returns c with the defaults of its zero fields, and with
// TLS.Log set to Log.
func (c Config) WithDefaults() Config {
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	c.TLS.Log = c.Log
	return c
}

// Validate reports everything wrong with c at once; what names the daemon
// in the messages ("bank").
func (c Config) Validate(what string) error {
	var errs []error
	if err := certs.CheckName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("%s name: %w", what, err))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, errors.New("drain timeout is negative"))
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < time.Second) {
		errs = append(errs, fmt.Errorf("lease TTL %v is under 1s", c.LeaseTTL))
	}
	if c.Advertise != "" && !c.Etcd.Enabled() {
		errs = append(errs, errors.New("an advertised address needs etcd endpoints"))
	}
	errs = append(errs, c.TLS.Validate(), c.Etcd.Validate())
	return errors.Join(errs...)
}

// FlagHelp is what differs between the daemons' shared flags: the words of
// their help and the defaults.
type FlagHelp struct {
	// What names the daemon in the help: "the bank's certificate".
	What string
	// Name and NameUsage are --name's default and help.
	Name, NameUsage string
	// Listen is --listen's default.
	Listen string
	// Etcd says what the daemon does in etcd, after --etcd-endpoints'
	// "etcd client URLs, comma-separated: ".
	Etcd string
}

// Flags declares the flags of c's fields, the same on every daemon but for
// the words and defaults of h.
func Flags(fs *pflag.FlagSet, c *Config, h FlagHelp) {
	fs.StringVar(&c.Name, "name", h.Name, h.NameUsage)
	fs.StringVar(&c.Listen, "listen", h.Listen, "gRPC listen address")
	fs.StringVar(&c.DataDir, "data-dir", "", "directory of the "+h.What+"'s bbolt file (required)")
	fs.StringVar(&c.TLS.CertFile, "cert", "", "the "+h.What+"'s certificate (PEM)")
	fs.StringVar(&c.TLS.KeyFile, "key", "", "the "+h.What+"'s private key (PEM)")
	fs.StringVar(&c.TLS.CAFile, "ca", "", "the CA certificate that every peer must be signed by (PEM)")
	fs.StringVar(&c.TLS.CRLFile, "crl", "", "the CA's revocation list, reloaded when it changes (PEM; default: ca.crl next to --ca, if present)")
	discovery.Flags(fs, &c.Etcd, &c.Advertise, &c.LeaseTTL, h.What, h.Etcd)
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", DefaultDrainTimeout, "how long shutdown waits for calls in flight")
	metrics.Flag(fs, &c.MetricsListen)
}
