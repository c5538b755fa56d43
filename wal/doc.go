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
//		_, err = tx.Append(wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: attempt, Payload: p})
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
//	wal.index     txid (16) | attempt (uint32 BE)     -> seq, seq delta, … (uvarints)
//	state         the caller's buckets (Tx.Bucket), e.g. a balance projection
//
// Sequence numbers start at 1 and have no gaps, except in a log written by
// Salvage, which keeps each record's own number and leaves out those it
// could not find (see below). wal.index finds the records of one attempt
// of one transaction, for a bank's idempotency: one key per attempt, whose
// value lists its records' sequence numbers, the first whole and each
// next as its distance from the one before. Only records of the types
// their owner registers Indexed are in it (a bank's 2PC records: its
// PREPARED and COMMITTED cost one key of about 25 bytes), so records with
// a zero txid never are. Logs written before this layout have a key per
// record of every Transactional type, txid | attempt | seq (uint64 BE) ->
// empty; Lookup and Verify read both, even for one attempt. Both buckets
// are written in the same transaction as the record. wal.records' pages
// are filled completely before they split, not half (its keys only grow
// and its values never change), and wal.index's to 90% (see indexFill).
//
// Tx.Stats gives every bucket's pairs, pages and bytes allocated and in
// use, from bbolt's statistics, and Tx.TxIDs how many transactions the
// index names: the figures strife-inspect stats prints.
//
// # Transaction IDs
//
// The zero ULID marks records that belong to no transaction (accounts,
// deposits, users, epochs, the gateway's known banks), so it is not a
// transaction ID: a transaction under it could be written and never looked
// up again. CheckTxID is the one rule, shared by the gateway and the
// banks, which refuse the zero ID at their edge (ParseTxID parses and
// checks the text form); Tx.Append refuses a record of a Transactional
// type (2PC records, holds and postings, the gateway's payment records)
// with the zero ID, with an error wrapping ErrZeroTxID. Records already
// written are read as they are.
//
// A record value is a header followed by the payload. Records are written
// in layout 2:
//
//	0      4         5      6               22                 22+n
//	+------+---------+------+---------------+------------------+---------+
//	| crc  | version | type | txid (ULID)   | attempt          | payload |
//	+------+---------+------+---------------+------------------+---------+
//	  u32     u8        u8     16 bytes        uvarint, n bytes   the rest
//
// and read in layout 2 or layout 1, which every log written before
// layout 2 holds, and which has a fixed 30-byte header:
//
//	| crc u32 | version u8 = 1 | type u8 | txid 16 | attempt u32 BE | length u32 BE | payload |
//
// Layout 2 drops the length (the value's own length gives the payload's,
// and the checksum covers every byte, so a cut record is caught) and
// writes the attempt as a varint (one to three bytes, where an attempt's
// epoch sits above its low 12 bits): seven bytes less for most records.
// crc is CRC-32C (Castagnoli), big-endian, over the 8-byte key followed by
// bytes 4 to the end, so a record moved to another key is detected too.
// The payload's encoding belongs to the type (Strife uses protobuf
// messages from proto/strife/storage/v1) and is at most MaxPayload bytes.
//
// # Record types
//
// The log knows a type only by number, name and whether it is
// Transactional: the package that writes a type declares it with
// RegisterType from its init (ledger: the bank's ledger events and 2PC
// records; coordinator: the gateway's payments; users: the gateway's
// users). What a record means, its payload and how it is replayed belong
// to that package. A program reads a file only if it links the owners of
// its records; a type no owner registered is ErrUnknownType.
//
// # Errors
//
// Decode, Scan and Lookup return an error wrapping ErrCorrupt for a record
// whose bytes are damaged, and ErrUnknownType for an intact record of a
// type this version does not know (written by a newer version). Neither is
// skipped: a log that cannot be read completely cannot be trusted.
// Tx.Verify reads the whole log and its index that way, for offline checks.
//
// A commit the disk refuses (full, an I/O error, a failed fsync) fails
// every call of its batch with ErrWriteFailed, which wraps the disk's own
// error: nothing of it is in the log, and the log takes appends again,
// since bbolt rolls a failed commit back and stays usable. A commit that
// failed after its meta page became visible cannot be told durable or
// not: the log then refuses every append with ErrLogFailed until it is
// reopened. Options.FailWrites injects such failures in tests.
//
// # Damaged files
//
// bbolt trusts its file: a flipped byte in a page header or a file cut
// short makes it panic (on a goroutine of its own when it rebuilds a
// freelist the file does not keep, where no recover can reach) or fault
// on its memory map. So Open and OpenReadOnly (and the client's queue,
// with CheckFile) check a file before bbolt opens it, every time, with
// plain reads (pread) that no damage can fault:
//
//   - the meta pages, as bbolt reads them: no bbolt magic number in either
//     is ErrNotLog (with what the file looks like: empty, a PNG image, a
//     SQLite database); an intact meta page of another format version is
//     ErrFormatVersion; a bad checksum or impossible field is damage. One
//     damaged meta page is a warning (Log.Warnings, FileCheck.Warnings):
//     bbolt uses the other, and the next commit rewrites it. Both damaged
//     is ErrDamaged.
//   - the size: a file shorter than its meta page's high-water mark times
//     its page size is ErrDamaged ("truncated").
//   - the tree, from the root bucket through every bucket: each page
//     below the high-water mark, reached once, saying it is the page its
//     parent names, a branch or a leaf, its elements and their keys and
//     values within it, its keys in order and within its parent's bounds;
//     and the freelist page, which bbolt reads at open, listing only
//     pages in range that no bucket uses. Anything else is ErrDamaged.
//
// Every refusal is one line naming the file and what is wrong, such as
// "wal: open /data/BankA.db: damaged data file: page 281 (a branch or leaf
// page) identifies itself as page 18446744073709551334".
//
// The walk of the whole tree costs time in proportion to the file (about
// a second per 321 to 750 MiB on the development machine), and a daemon
// must start in a time that does not grow with its history. So Open walks
// the whole tree only of a file up to Options.FullCheckBelow bytes
// (default 64 MiB, at most about 0.2 s), or of one without a freelist
// (written before issue 17: bbolt rebuilds its freelist by walking the
// tree at this first open, and writes it). Of a larger file it checks, in
// bounded time, the meta pages, the size, the freelist page and every
// branch page, with the first leaf under each (bbolt's trees are
// balanced: a branch page's children are all leaves or all branches), and
// every bucket whose root is a leaf: what bbolt reads to open and to find
// any key. It then starts a scrub: the same walk of the whole tree, on a
// goroutine of its own, over a read transaction's snapshot (bbolt reuses
// none of its pages while it is open), with pread, pausing after every
// 256 pages as long as they took to read (at most half a core and half
// the disk), stopped by Close. If it finds damage, the log refuses every
// append from then on with that error (wrapping ErrDamaged and naming the
// page), as with ErrLogFailed, reports it to Options.OnDamage (the
// daemons log it), sets strife_wal_damaged to 1 and returns it from
// Log.Damaged; reads go on. Until the scrub has passed a damaged leaf, a
// read may reach it first, and bbolt then panics (it asserts what it reads
// of a page): View returns a panic raised in bbolt's code as an error
// wrapping ErrDamaged, as it does a fault, while a panic of the caller's
// own function goes on; an Append's function that meets one fails with
// it, as with any panic in it. Since bbolt remaps a
// growing file only once no read transaction is open, such a file is
// mapped a GiB larger than it is, so that no commit waits for the scrub.
// OpenReadOnly always walks the whole file first: the tools read all of
// it anyway (stats, check, salvage).
//
// The log keeps its freelist in the file (bbolt writes it with every
// commit: one more 4 KiB page, in the same fdatasync) so that bbolt reads
// it at open instead of walking the whole file to rebuild it, as it did
// with NoFreelistSync until issue 17. On a log of 5,000,000 records
// (1.05 GB) Open took 5.5 to 6.5 s before, and takes 0.10 to 0.17 s now
// (the scrub then runs for about 5 s); see DESIGN.md.
//
// Whatever still goes wrong inside bbolt on these paths is turned into
// ErrDamaged too: a panic in bolt.Open or the buckets' creation is
// recovered, and a memory fault (SIGBUS when the mapped file shrank under
// the process) is made a panic with debug.SetPanicOnFault on the goroutine
// that reads, in Open and in every View.
//
// Salvage copies the intact records of a damaged log into a new one:
// records check themselves (CRC-32C over key and value), so it takes them
// from the records' tree as far as it reads and then from every page of
// the file that looks like a leaf, which finds the records of leaves whose
// branch pages are gone. Each keeps its sequence number, the new log
// continues after the last one the damaged file had, and the numbers of
// records not found are reported as gaps. Projections are not copied: the
// owner rebuilds them from the new log (strife-recover salvage does).
//
// # Compaction
//
// Log.Compact copies a sound log, projections included, into a new file
// with bbolt.Compact: every key in order, pages full, no free pages, the
// bucket sequences (so the records' numbering goes on). It reads the log
// in one read-only transaction, so a log open for appends is copied as of
// one commit; the copy is written under a temporary name, cut to its pages
// (Tx.Size), synced and linked to its name, never over an existing file.
// strife-recover compact checks the original before and the copy after.
//
// # Metrics
//
// Options.Metrics (NewMetrics) measures each commit: its time, bbolt's
// write-and-sync time, its appends and bytes, and the commits the disk
// refused. Nil, the default, measures nothing.
package wal
