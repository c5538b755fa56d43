// Package backoff holds what Strife's retry loops share: the gateway's
// redelivery of decisions and its held payments, a bank's questions about
// attempts in doubt, etcd registration and watches, and the client's resends.
package backoff
