package top_test

import (
	"fmt"
	"strings"
)

// The fixtures below are exposition text as the daemons serve it
// (DESIGN.md, "Issue 15: metrics"): the names, types and labels strife
// top reads, and some it must ignore.

// gw is what a gateway's counters and gauges stand at.
type gw struct {
	committed, failed, pending int
	pay                        [4]int // cumulative, le 0.005, 0.01, 0.025, +Inf
	held, doubtA, doubtB       int
	fsync                      [3]int // cumulative, le 0.001, 0.002, +Inf
	grpcOK, grpcUnavailable    int
	start                      float64 // process_start_time_seconds
}

func (g gw) text() string {
	return fmt.Sprintf(`# HELP strife_payments_total Payments by status and reason.
# TYPE strife_payments_total counter
strife_payments_total{reason="",status="committed"} %d
strife_payments_total{reason="insufficient_funds",status="failed"} %d
strife_payments_total{reason="",status="pending"} %d
# HELP strife_pay_duration_seconds Pay handler latency.
# TYPE strife_pay_duration_seconds histogram
%s# HELP strife_payments_held Payments PENDING now.
# TYPE strife_payments_held gauge
strife_payments_held %d
# HELP strife_attempts_in_doubt Attempts a bank has not acknowledged.
# TYPE strife_attempts_in_doubt gauge
strife_attempts_in_doubt{bank="BankA"} %d
strife_attempts_in_doubt{bank="BankB"} %d
# HELP strife_wal_fsync_duration_seconds WAL write and fdatasync.
# TYPE strife_wal_fsync_duration_seconds histogram
%s# HELP grpc_server_handled_total RPCs completed on the server.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Pay",grpc_service="strife.v1.Gateway",grpc_type="unary"} %d
grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Pay",grpc_service="strife.v1.Gateway",grpc_type="unary"} %d
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds %g
`, g.committed, g.failed, g.pending,
		histogram("strife_pay_duration_seconds", "", []string{"0.005", "0.01", "0.025"}, g.pay[:]),
		g.held, g.doubtA, g.doubtB,
		histogram("strife_wal_fsync_duration_seconds", "", []string{"0.001", "0.002"}, g.fsync[:]),
		g.grpcOK, g.grpcUnavailable, g.start)
}

// bk is what a bank's counters and gauges stand at.
type bk struct {
	committed, aborted int
	prepare, commit    [3]int // unary handling time, cumulative, le 0.001, 0.01, +Inf
	watch              [3]int // a server stream's handling time: never in the percentiles
	holds, inDoubt     int
}

func (b bk) text() string {
	return fmt.Sprintf(`# TYPE strife_bank_outcomes_total counter
strife_bank_outcomes_total{outcome="committed"} %d
strife_bank_outcomes_total{outcome="aborted"} %d
# TYPE strife_bank_votes_total counter
strife_bank_votes_total{vote="yes"} 1e6
# TYPE grpc_server_handling_seconds histogram
%s%s%s# TYPE strife_bank_holds gauge
strife_bank_holds %d
# TYPE strife_bank_in_doubt gauge
strife_bank_in_doubt %d
`, b.committed, b.aborted,
		histogram("grpc_server_handling_seconds", `grpc_method="Prepare",grpc_service="strife.v1.Bank",grpc_type="unary"`, []string{"0.001", "0.01"}, b.prepare[:]),
		histogram("grpc_server_handling_seconds", `grpc_method="Commit",grpc_service="strife.v1.Bank",grpc_type="unary"`, []string{"0.001", "0.01"}, b.commit[:]),
		histogram("grpc_server_handling_seconds", `grpc_method="Watch",grpc_service="strife.v1.Bank",grpc_type="server_stream"`, []string{"0.001", "0.01"}, b.watch[:]),
		b.holds, b.inDoubt)
}

const etcdText = `# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 0
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 0
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 0
etcd_disk_wal_fsync_duration_seconds_sum 0
etcd_disk_wal_fsync_duration_seconds_count 0
`

// histogram renders one histogram series: cumulative counts for the
// bounds and +Inf (the last count).
func histogram(name, labels string, bounds []string, cum []int) string {
	var b strings.Builder
	sep := ""
	if labels != "" {
		sep = ","
	}
	for i, le := range append(bounds, "+Inf") {
		fmt.Fprintf(&b, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, le, cum[i])
	}
	braces := ""
	if labels != "" {
		braces = "{" + labels + "}"
	}
	fmt.Fprintf(&b, "%s_sum%s 0\n%s_count%s %d\n", name, braces, name, braces, cum[len(cum)-1])
	return b.String()
}
