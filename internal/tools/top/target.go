package top

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// DefaultTargets are the endpoints of the deployment `strife up
// --base-port base` runs (deploy.MetricsPorts), on 127.0.0.1: the gateway
// first, then the banks, then etcd.
func DefaultTargets(base int) []Target {
	ports := deploy.MetricsPorts(base)
	names := make([]string, 0, len(ports))
	for name := range ports {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]Target, len(names))
	for i, name := range names {
		out[i] = Target{Name: name, URL: "http://127.0.0.1:" + strconv.Itoa(ports[name]) + "/metrics"}
	}
	return out
}

// rank orders the rows as a payment flows: gateway, banks, etcd.
func rank(name string) int {
	switch {
	case strings.HasPrefix(name, "gateway"):
		return 0
	case name == "etcd":
		return 2
	}
	return 1
}

// ParseTarget reads NAME=URL. The URL may be shortened to HOST:PORT or
// lack its path: "127.0.0.1:7091" and "http://127.0.0.1:7091" both mean
// http://127.0.0.1:7091/metrics.
func ParseTarget(s string) (Target, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || name == "" || raw == "" {
		return Target{}, fmt.Errorf("top: target %q is not NAME=URL", s)
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, fmt.Errorf("top: target %q: want an http URL or HOST:PORT", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return Target{Name: name, URL: u.String()}, nil
}

// ParseTargets reads each NAME=URL of args, refusing a name given twice.
func ParseTargets(args []string) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for _, a := range args {
		t, err := ParseTarget(a)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("top: target %q given twice", t.Name)
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	return out, nil
}
