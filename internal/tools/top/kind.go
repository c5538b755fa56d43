package top

// A Kind is what a process is, found from what it serves rather than from
// its name, so that any endpoint can be watched: a gateway serves
// strife_payments_held, a bank strife_bank_holds, etcd
// etcd_server_has_leader. Anything else is "other" and shown up or DOWN
// with its gRPC figures, if it has any.
type Kind string

// The kinds of process strife top knows.
const (
	KindGateway Kind = "gateway"
	KindBank    Kind = "bank"
	KindEtcd    Kind = "etcd"
	KindOther   Kind = "other"
)

// A recipe says where each column's figure comes from for one kind of
// process (DESIGN.md, "Issue 15: metrics" and "Issue 15: strife top"). A
// zero match (no name) leaves the column blank.
type recipe struct {
	payments match // counter: its rate is payments/s
	latency  match // histogram: p50 and p99 over the last interval
	held     match // gauge
	inDoubt  match // gauge, summed over its series
	fsync    match // histogram: p99 over the last interval
	errors   match // counter: its rate is errors/s
}

// grpcErrors counts the gRPC calls answered with any code but OK, and
// grpcUnary the handling time of unary calls: a stream's handling time is
// its whole life (a watch lasts minutes) and would swamp the percentiles.
var (
	grpcErrors = match{name: "grpc_server_handled_total", not: map[string]string{"grpc_code": "OK"}}
	grpcUnary  = match{name: "grpc_server_handling_seconds", is: map[string]string{"grpc_type": "unary"}}
	walFsync   = match{name: "strife_wal_fsync_duration_seconds"}
)

var recipes = map[Kind]recipe{
	KindGateway: {
		payments: match{name: "strife_payments_total", not: map[string]string{"status": "pending"}},
		latency:  match{name: "strife_pay_duration_seconds"},
		held:     match{name: "strife_payments_held"},
		inDoubt:  match{name: "strife_attempts_in_doubt"},
		fsync:    walFsync,
		errors:   grpcErrors,
	},
	KindBank: {
		payments: match{name: "strife_bank_outcomes_total", is: map[string]string{"outcome": "committed"}},
		latency:  grpcUnary,
		held:     match{name: "strife_bank_holds"},
		inDoubt:  match{name: "strife_bank_in_doubt"},
		fsync:    walFsync,
		errors:   grpcErrors,
	},
	KindEtcd: {
		latency: grpcUnary,
		fsync:   match{name: "etcd_disk_wal_fsync_duration_seconds"},
		errors:  grpcErrors,
	},
	KindOther: {
		latency: grpcUnary,
		errors:  grpcErrors,
	},
}

// kindOf tells what served s.
func kindOf(s *Sample) Kind {
	switch {
	case s.Families["strife_payments_held"] != nil:
		return KindGateway
	case s.Families["strife_bank_holds"] != nil:
		return KindBank
	case s.Families["etcd_server_has_leader"] != nil:
		return KindEtcd
	}
	return KindOther
}
