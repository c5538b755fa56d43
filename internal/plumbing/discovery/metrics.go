package discovery

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers strife_etcd_registered with reg: 1 while the
// registration r returns is in etcd (Registration.Registered), 0 otherwise,
// and for a process that does not register (r returns nil).
func RegisterMetrics(reg prometheus.Registerer, r func() *Registration) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strife_etcd_registered",
		Help: "1 while registered in etcd, 0 otherwise.",
	}, func() float64 {
		if reg := r(); reg != nil && reg.Registered() {
			return 1
		}
		return 0
	}))
}
