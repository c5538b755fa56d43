// Package etcdtest is test plumbing: a real embedded etcd (package devetcd)
// on 127.0.0.1 with free ports and its data in a temporary directory, and
// etcd clients that are closed when the test ends. Start runs one for the
// whole test; New makes one that the test stops and starts again, on the
// same ports and data, as an outage would.
package etcdtest
