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

// WaitScrub waits for the scrub started by Open, if any, to end.
func (l *Log) WaitScrub() {
	if l.scrubDone != nil {
		<-l.scrubDone
	}
}

// Scrubbing reports whether Open left the walk of the leaves to a scrub.
func (l *Log) Scrubbing() bool { return l.scrubDone != nil }
