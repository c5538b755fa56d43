package wal

import (
	"bytes"
	"runtime"
)

// QueuedAppends counts the Appends waiting for the committer: those in the
// queue and those blocked sending to it because it is full (MaxBatch).
func (l *Log) QueuedAppends() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	blocked := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(" [chan send")) && bytes.Contains(g, []byte("wal.(*Log).Append(")) {
			blocked++
		}
	}
	return len(l.queue) + blocked
}

// Closing reports whether a Close holds the log's lock or waits for it, and
// so holds off new Appends.
func (l *Log) Closing() bool {
	if l.mu.TryRLock() {
		l.mu.RUnlock()
		return false
	}
	return true
}
