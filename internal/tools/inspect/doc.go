// Package inspect is strife-inspect: read-only views of Strife data files
// for an operator. accounts lists a bank's accounts with balance, holds and
// available balance; entries pages through one account's entries, newest
// first, filtered by time range and transaction ID, a page as long as the
// bank's ListEntries gives (participant.DefaultPageSize, 100) unless --limit
// says otherwise; tx tells one transaction's whole story across the files
// given, every record in time order; totals adds up deposits, postings and
// balances per bank and checks that the postings between the banks given
// cancel out.
//
// Files are opened with wal.OpenReadOnly: nothing is ever written, and a
// file locked by a running daemon is reported after --timeout (default 1s).
// Output is a table, or JSON with --json.
package inspect
