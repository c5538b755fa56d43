package deploy

import (
	"errors"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
)

// FreeBasePort finds a base port whose whole range (the gateway and the
// banks at base to base+3, etcd at base+379 and base+380, and every
// metrics port: MetricsPorts) was free on
// 127.0.0.1 a moment ago, for tests and strife-chaos. The range lies below
// Linux's ephemeral ports (32768 up), so that no outgoing connection takes
// one of its ports between a child's stop and the restart that listens on
// it again.
func FreeBasePort() (int, error) {
	const low, high = 10000, 32768 - topPortOffset - 1
	for range 100 {
		base := low + rand.IntN(high-low)
		if portsFree(base, 0, 1, 2, 3, etcdPortOffset, etcdPeerPortOffset) && portsFree(0, slices.Collect(maps.Values(MetricsPorts(base)))...) {
			return base, nil
		}
	}
	return 0, errors.New("deploy: no free range of ports found below 32768; give a base port")
}

func portsFree(base int, offsets ...int) bool {
	for _, off := range offsets {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+off)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
