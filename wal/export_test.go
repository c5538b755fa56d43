package wal

import "encoding/binary"

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

// EncodeV1 returns the records-bucket value of r in the first layout
// (formatV1), as logs written before formatV2 hold it, so that tests can
// write such logs.
func EncodeV1(r Record) []byte {
	buf := make([]byte, headerSize+len(r.Payload))
	buf[4] = formatV1
	buf[5] = byte(r.Type)
	copy(buf[6:22], r.TxID[:])
	binary.BigEndian.PutUint32(buf[22:26], r.Attempt)
	binary.BigEndian.PutUint32(buf[26:30], uint32(len(r.Payload)))
	copy(buf[headerSize:], r.Payload)
	binary.BigEndian.PutUint32(buf[0:4], checksum(r.Seq, buf[4:]))
	return buf
}

// WaitScrub waits for the scrub started by Open, if any, to end.
func (l *Log) WaitScrub() {
	if l.scrubDone != nil {
		<-l.scrubDone
	}
}

// Scrubbing reports whether Open left the walk of the leaves to a scrub.
func (l *Log) Scrubbing() bool { return l.scrubDone != nil }
