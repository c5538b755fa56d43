// Package wal is Strife's write-ahead log: an append-only sequence of
// records in a bbolt file, the durable truth from which every bank and
// gateway rebuilds its state.
//
// # Guarantees
//
// A record is durable (fsynced) when the Log.Append that wrote it returns
// nil, and never before any other record of the same Append: the records of
// one Append, and whatever the caller wrote to its own buckets in the same
// transaction, are all on disk or none are, even if the process dies in the
// middle. Records are never changed or removed once appended.
//
// # Use
//
//	l, err := wal.Open(path, wal.Options{})
//	err = l.Append(func(tx *wal.Tx) error {
//		recs, err := tx.Lookup(id, attempt) // what happened to this attempt?
//		...
//		_, err = tx.Append(wal.Record{Type: wal.TypePrepared, TxID: id, Attempt: attempt, Payload: p})
//		return err
//	})
//	err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, replayOne) })
//
// # Group commit
//
// One Append at a time leads: it takes the Appends queued (its own first,
// up to Options.MaxBatch), runs them one after the other in one bbolt
// read-write transaction and commits it: one fsync for the whole batch.
// Appends that arrive meanwhile queue; when the commit is done, the leader
// hands the lead to the first of them, whose batch is everything queued by
// then, and returns. A lone writer therefore commits on its own goroutine
// and waits for exactly one commit, with no timer (unlike bbolt's
// DB.Batch) and no hand-off to another goroutine, while many writers share
// commits in proportion to how many are waiting. The functions of one batch
// see each other's writes, in queue order, as if they had run one at a
// time.
//
// AppendAll queues several functions as one Append: they run in order in
// the same commit, never split across two, and each is answered on its own
// (one that fails is rolled back and the others run again without it). A
// bank applies a batch of many payments' messages this way, for one fsync.
//
// AppendLater queues a function without waiting for its commit, and without
// leading one: it rides with the next Append's batch, or is committed on its
// own after Options.Linger. It is for records that no one waits for and a
// crash may lose, such as the gateway's END of an attempt: writing them
// costs no commit of their own. AppendWithin is the same with a linger of
// its own: the gateway's lazy decision of an implicitly committed payment
// waits at most a couple of milliseconds for a commit to share, since its
// Commits wait for it.
//
// # On-disk format
//
// The bbolt file has three top-level buckets:
//
//	wal.records   seq (uint64, big-endian)            -> record
//	wal.index     txid (16) | attempt (uint32 BE) | seq (uint64 BE) -> empty
//	state         the caller's buckets (Tx.Bucket), e.g. a balance projection
//
// Sequence numbers start at 1 and have no gaps. wal.index makes the records
// of one attempt of one transaction a contiguous key range, for idempotency
// checks; records with a zero txid are not indexed. Both buckets are written
// in the same transaction as the record.
//
// A record value is a fixed header followed by the payload:
//
//	0      4         5      6               22           26          30
//	+------+---------+------+---------------+------------+-----------+---------+
//	| crc  | version | type | txid (ULID)   | attempt    | length    | payload |
//	+------+---------+------+---------------+------------+-----------+---------+
//	  u32     u8        u8     16 bytes        u32 BE       u32 BE     length bytes
//
// crc is CRC-32C (Castagnoli), big-endian, over the 8-byte key followed by
// bytes 4 to the end, so a record moved to another key is detected too.
// version is 1. The payload's encoding belongs to the type (Strife uses
// protobuf messages from proto/strife/storage/v1) and is at most MaxPayload
// bytes.
//
// # Errors
//
// Decode, Scan and Lookup return an error wrapping ErrCorrupt for a record
// whose bytes are damaged, and ErrUnknownType for an intact record of a
// type this version does not know (written by a newer version). Neither is
// skipped: a log that cannot be read completely cannot be trusted.
//
// A commit the disk refuses (full, an I/O error, a failed fsync) fails
// every call of its batch with ErrWriteFailed, which wraps the disk's own
// error: nothing of it is in the log, and the log takes appends again,
// since bbolt rolls a failed commit back and stays usable. A commit that
// failed after its meta page became visible cannot be told durable or
// not: the log then refuses every append with ErrLogFailed until it is
// reopened. Options.FailWrites injects such failures in tests.
package wal
