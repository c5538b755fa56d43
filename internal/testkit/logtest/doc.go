// Package logtest reads a log the way tests want to and daemons never do:
// Records finds every record of one attempt of a transaction by scanning
// the whole log, whatever its type, where wal.Tx.Lookup finds only the
// Indexed types' records through wal.index. Tests use it to say what a
// step wrote; it costs a read of the whole log, so nothing else should.
package logtest
