package deploy

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"
)

// Config configures a local deployment. Zero values take the defaults
// documented on each field.
type Config struct {
	// DataDir holds everything the deployment keeps between runs:
	//
	//	<DataDir>/certs     the CA, every program's certificate and key, token.key
	//	<DataDir>/etcd      the embedded etcd's data
	//	<DataDir>/banks     BankA.db, BankB.db, BankC.db
	//	<DataDir>/gateway   gateway-1.db
	//
	// Default "strife-data". It is made absolute, so that the commands
	// printed for the user work from any directory.
	DataDir string
	// BasePort numbers the listeners: the gateway on BasePort, BankA, BankB
	// and BankC on the next three ports, etcd's clients on BasePort+379 and
	// its peer port on BasePort+380, the metrics at MetricsPorts. Default
	// 7000.
	BasePort int
	// UsersFile is the gateway's users seed file, applied when its store is
	// empty. Default "testdata/demo-users.yaml" (run from the repository).
	UsersFile string
	// StartTimeout bounds how long a child may take to say it is serving.
	// Default 30s.
	StartTimeout time.Duration
	// StopTimeout bounds how long a child may take to exit after SIGTERM
	// before it is killed. Default 15s (the daemons drain for up to 10s).
	StopTimeout time.Duration
	// Executable is the strife binary whose hidden subcommands run the
	// children. Default: this process's executable.
	Executable string
	// Stdin is read for commands (see the package documentation); nil reads
	// none. Its end does not stop the deployment.
	Stdin io.Reader
	// Stdout receives the children's log lines, prefixed, and up's own
	// messages.
	Stdout io.Writer
	// Color renders log levels in color, for a terminal.
	Color bool
	// Env is added to every child's environment (for example gofail's
	// GOFAIL_FAILPOINTS, in a build with failpoints).
	Env []string
	// BankArgs and GatewayArgs are added to the banks' and the gateway's
	// command lines, after the deployment's own flags.
	BankArgs, GatewayArgs []string
}

// Defaults of Config.
const (
	DefaultDataDir      = "strife-data"
	DefaultBasePort     = 7000
	DefaultUsersFile    = "testdata/demo-users.yaml"
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 15 * time.Second
)

// etcd's ports are BasePort+379 and +380: 7379 and 7380 by default, echoing
// etcd's own 2379 and 2380.
const (
	etcdPortOffset     = 379
	etcdPeerPortOffset = 380
)

// Each process serves its Prometheus metrics at BasePort plus its metrics
// offset: the gateway +90, the banks +91 to +93 (7090 to 7093 by default),
// etcd its own at +381 (7381). MetricsPorts gives them by name.
const (
	gatewayMetricsOffset = 90
	bankMetricsOffset    = 91 // BankA; BankB and BankC follow
	etcdMetricsOffset    = 381
	// topPortOffset is the highest offset the deployment listens at.
	topPortOffset = etcdMetricsOffset
)

// MetricsPorts returns the port at which each process of a deployment
// with base port base serves its metrics (http://127.0.0.1:PORT/metrics),
// by process name: "gateway-1", "BankA", "BankB", "BankC", "etcd". It is
// the one definition `strife top` and the tests read.
func MetricsPorts(base int) map[string]int {
	ports := map[string]int{gatewayName: base + gatewayMetricsOffset, etcdName: base + etcdMetricsOffset}
	for i, bank := range bankNames {
		ports[bank] = base + bankMetricsOffset + i
	}
	return ports
}

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.BasePort < 0 || c.BasePort+topPortOffset > 65535 {
		errs = append(errs, fmt.Errorf("base port %d is not in 1-%d (etcd's metrics listen at +%d)", c.BasePort, 65535-topPortOffset, topPortOffset))
	}
	if c.StartTimeout < 0 || c.StopTimeout < 0 {
		errs = append(errs, errors.New("negative timeout"))
	}
	if c.Stdout == nil {
		errs = append(errs, errors.New("no stdout"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deploy: invalid config: %w", err)
	}
	return nil
}

// withDefaults fills in the defaults and makes the paths absolute.
func (c Config) withDefaults() (Config, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	def(&c.UsersFile, DefaultUsersFile)
	if c.BasePort == 0 {
		c.BasePort = DefaultBasePort
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	var err error
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return c, err
	}
	c.UsersFile, err = filepath.Abs(c.UsersFile)
	return c, err
}

func (c Config) addr(offset int) string {
	return "127.0.0.1:" + strconv.Itoa(c.BasePort+offset)
}

func (c Config) certDir() string { return filepath.Join(c.DataDir, "certs") }
