// Package bench drives concurrent payers through the whole payment path —
// client → gateway → two banks, over mutual TLS, with every fsync — and
// reports throughput and latency. The strife-bench command runs it.
//
// It starts a complete deployment of its own in a temporary directory
// (certificates, BankA and BankB, the gateway), in this process but over
// real TCP connections on 127.0.0.1, registers one payer per concurrent
// client with an account at BankA, and has each pay 1 unit at a time to one
// account at BankB, as fast as it can, for a fixed time per level.
//
// With Options.Gateway it measures a running deployment instead (for
// example `strife up`'s, where every daemon is its own process):
//
//	strife-bench --gateway 127.0.0.1:7000 --certs strife-data/certs
//
// The figures, and what the profiles say about them, are in DESIGN.md
// ("Performance").
package bench
