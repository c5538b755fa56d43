// Package top is `strife top`: a live view, for an operator at a terminal,
// of every process of a Strife deployment, read from their Prometheus
// endpoints (the metrics each daemon serves with --metrics-listen).
//
// # Using it
//
//	strife top                          # the deployment `strife up` runs here (base port 7000)
//	strife top --base-port 9000         # ... one run with --base-port 9000
//	strife top gateway=10.0.0.5:7090 BankA=http://10.0.0.6:7091/metrics
//	strife top --once > frame.txt       # one frame, for a script or a report
//
// With no targets it watches gateway-1, BankA-C and etcd on 127.0.0.1 at
// the ports deploy.MetricsPorts gives (base+90 to base+93, etcd base+381).
// A target is NAME=URL; a URL without a path means /metrics, and HOST:PORT
// means http://HOST:PORT/metrics. q or Ctrl-C quits.
//
// # What a row shows
//
// One row per process, refreshed every --interval (1s):
//
//	NAME         KIND     STATE          PAY/S       P50       P99    HELD  IN DOUBT  FSYNC P99    ERR/S
//	gateway-1    gateway  up             387.5    13.8ms    24.8ms       2         1      3.2ms      0.0
//	BankB        bank     DOWN       connection refused
//
//	            gateway                                  bank
//	PAY/S       strife_payments_total, status not        strife_bank_outcomes_total
//	            pending (payments made final)            {outcome="committed"}
//	P50, P99    strife_pay_duration_seconds              grpc_server_handling_seconds,
//	                                                     unary calls (streams live minutes)
//	HELD        strife_payments_held                     strife_bank_holds
//	IN DOUBT    sum of strife_attempts_in_doubt          strife_bank_in_doubt
//	FSYNC P99   strife_wal_fsync_duration_seconds        the same
//	ERR/S       grpc_server_handled_total, grpc_code not OK
//
// etcd's row shows whether it answers, its gRPC errors/s and its own WAL
// fsync p99 (etcd_disk_wal_fsync_duration_seconds). Any other endpoint is
// shown as "other", up or DOWN. The kind is found from what the endpoint
// serves (strife_payments_held, strife_bank_holds, etcd_server_has_leader),
// not from its name. A "-" is a figure unknown: not served by this kind of
// process, or not computable yet.
//
// # How the figures are computed
//
// Every figure but the gauges is a difference between the last two scrapes
// of the process, so it describes the last interval, never the process's
// whole life:
//
//   - a rate is the increase of the counters over the real time between the
//     two scrapes (each stamped when sent), so a late refresh does not
//     inflate it;
//   - a percentile is estimated from the histogram's bucket counts in the
//     interval (current minus previous, bucket by bucket) exactly as
//     Prometheus' histogram_quantile does: find the bucket the rank falls in
//     and interpolate linearly inside it (0 is the lower bound of the first
//     bucket; a rank beyond the last finite bound answers that bound). No
//     observation in the interval gives "-", not zero.
//
// # States
//
//   - starting: the first answer; gauges only, rates need a second scrape.
//   - up: figures for the last interval.
//   - restarted: a counter went down, or process_start_time_seconds
//     changed, since the last answer. The interval's rates are unknown, and
//     shown "-" rather than negative; the next interval is ordinary again.
//   - DOWN: no answer within the interval (refused, timed out, an HTTP
//     error or text that is not the exposition format), with the reason in
//     a few words. The other rows go on. When the process answers again its
//     row comes back; the first rates then cover the whole gap since its
//     last answer (or it shows restarted).
//
// # Output
//
// At a terminal top draws on the alternate screen, redrawing in place, with
// standard input in raw mode to read q; it gives the terminal back as it
// was on q, Ctrl-C or SIGTERM. Anywhere else (a pipe, a file) each frame
// is printed as plain text followed by a blank line, with no escape
// sequences; --once prints one frame after two scrapes an interval apart.
//
// Monitor and Compute are the core, usable without a terminal: Monitor
// scrapes the targets (each bounded by the context) and keeps the last
// sample of each; Compute turns two samples into a Row and does no I/O.
// The exposition is parsed by github.com/prometheus/common/expfmt.
package top
