// Package inspect is strife-inspect: read-only views of Strife data files
// for an operator. accounts lists a bank's accounts with balance, holds and
// available balance; entries pages through one account's entries, newest
// first, filtered by time range and transaction ID, a page as long as the
// bank's ListEntries gives (participant.DefaultPageSize, 100) unless --limit
// says otherwise; tx tells one transaction's whole story across the files
// given, every record in time order; totals adds up deposits, postings and
// balances per bank and checks that the postings between the banks given
// cancel out; stats tells what a file costs on disk.
//
// stats reports, per file and per bucket, bbolt's own statistics
// (Bucket.Stats): key/value pairs, pages, bytes allocated to them, bytes in
// use and fill (in use / allocated). A nested bucket has a row of its own,
// named parent/child, and its parent's row counts only the parent's own
// pages, so the rows add up to the total; a small bucket stored inside its
// parent's page is shown as inline. The total is then divided by the
// payments the file holds, for what one payment costs: the gateway's
// payments projection has a key per payment; a bank's count is the
// transactions its log names (wal.Tx.TxIDs), one per payment it took part
// in. The file's size is larger than the total: it also holds bbolt's meta
// and free pages.
//
// Files are opened with wal.OpenReadOnly: nothing is ever written, and a
// file locked by a running daemon is reported after --timeout (default 1s).
// Output is a table, or JSON with --json.
package inspect
