// Package metricstest scrapes a real /metrics endpoint for tests: the
// values of its series, and the lint of its exposition.
package metricstest
