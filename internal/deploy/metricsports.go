package deploy

// Offsets from the base port of the metrics listeners that up gives its
// children: the gateway at base+90, the banks at base+91 to base+93 and
// etcd's own at base+381, next to its client and peer ports.
const (
	gatewayMetricsOffset = 90
	bankMetricsOffset    = 91
	etcdMetricsOffset    = 381
)

// MetricsPorts returns the port of each child's Prometheus endpoint
// (http://127.0.0.1:PORT/metrics) in a deployment on base, by child name:
// the one table that up, strife top and the tests share.
func MetricsPorts(base int) map[string]int {
	ports := map[string]int{
		gatewayName: base + gatewayMetricsOffset,
		etcdName:    base + etcdMetricsOffset,
	}
	for i, bank := range bankNames {
		ports[bank] = base + bankMetricsOffset + i
	}
	return ports
}
