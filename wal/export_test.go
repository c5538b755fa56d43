package wal

// QueuedAppends counts the Appends queued for a commit: not yet taken
// into a batch.
func (l *Log) QueuedAppends() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
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
