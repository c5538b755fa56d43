package recovery

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// EpochMargin is how far a salvaged gateway log's epoch jumps past the
// highest it still shows when records were lost: a lost EPOCH_BEGUN (or
// a lost tail of the log) may have numbered attempts the banks know, and
// no attempt number may be used twice. It costs 1,024 of the 2^20 epochs.
const EpochMargin = 1 << 10

// Salvage writes the intact records of the damaged file into a new file
// (wal.Salvage) and rebuilds the projection the daemon keeps beside them,
// as --repair does; then it checks the new file. It returns the exit
// status: 0 every record was recovered, 1 some were lost (the report says
// which sequence numbers), 2 nothing usable was written.
func Salvage(stdout, stderr io.Writer, damaged, into string, now func() time.Time) int {
	rep, err := wal.Salvage(damaged, into)
	if err != nil {
		fmt.Fprintf(stderr, "strife-recover: salvage: %v\n", err)
		return ExitUnusable
	}
	kind, err := rebuild(into, rep, now)
	if err != nil {
		os.Remove(into)
		fmt.Fprintf(stderr, "strife-recover: salvage: %s: the projection cannot be rebuilt from the records salvaged, so no file was left: %v\n", into, err)
		return ExitUnusable
	}
	printSalvage(stdout, damaged, into, kind, rep)
	code := Run(stdout, stderr, []string{into}, Options{Timeout: time.Second, Now: now})
	if code == ExitConsistent && rep.Lost() {
		code = ExitDifferences
	}
	return code
}

func printSalvage(w io.Writer, damaged, into string, kind Kind, rep *wal.SalvageReport) {
	last := "unknown (the root page is lost)"
	if rep.Known {
		last = fmt.Sprint(rep.LastSeq)
	}
	fmt.Fprintf(w, "SALVAGED %d records of %s (a %s log; its last sequence number: %s) into %s\n", rep.Records, damaged, kind, last, into)
	if rep.Unreadable > 0 {
		fmt.Fprintf(w, "  %d page(s) of the records' tree could not be read; their records were looked for page by page\n", rep.Unreadable)
	}
	for _, g := range rep.Gaps {
		if g[0] == g[1] {
			fmt.Fprintf(w, "  LOST record %d\n", g[0])
		} else {
			fmt.Fprintf(w, "  LOST records %d to %d\n", g[0], g[1])
		}
	}
	if len(rep.Conflicts) > 0 {
		fmt.Fprintf(w, "  CONFLICTING copies of records %v (left out)\n", rep.Conflicts)
	}
}

// rebuild makes the projection of the new log at path from its records:
// a bank's ledger, or the gateway's payments, epoch and users.
func rebuild(path string, rep *wal.SalvageReport, now func() time.Time) (Kind, error) {
	l, err := wal.Open(path, wal.Options{})
	if err != nil {
		return "", err
	}
	defer l.Close()
	kind, maxEpoch, err := kindOf(l)
	if err != nil {
		return "", err
	}
	switch kind {
	case Bank:
		lg, err := ledger.New(l, now)
		if err != nil {
			return kind, err
		}
		return kind, lg.Replay()
	case Gateway:
		if rep.Lost() || !rep.Known {
			if err := beginEpoch(l, maxEpoch+EpochMargin, now()); err != nil {
				return kind, err
			}
		}
		if err := coordinator.Replay(l); err != nil {
			return kind, err
		}
		return kind, users.New(l).Replay()
	}
	return "", errors.New("no record says whether it is a bank's or the gateway's log")
}

// kindOf tells a bank's log from the gateway's by its record types, and
// returns the highest epoch the gateway's records show: in EPOCH_BEGUN
// records, and in the high bits of attempt numbers.
func kindOf(l *wal.Log) (kind Kind, epoch uint32, err error) {
	err = l.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(r wal.Record) error {
			switch {
			case r.Type >= ledger.TypeAccountOpened && r.Type <= ledger.TypeSettled:
				kind = Bank
			case r.Type >= coordinator.TypePaymentAccepted:
				kind = Gateway
				epoch = max(epoch, r.Attempt>>coordinator.EpochBits)
				if r.Type == coordinator.TypeEpochBegun {
					e, err := coordinator.DecodeEpoch(r)
					if err != nil {
						return err
					}
					epoch = max(epoch, e)
				}
			}
			return nil
		})
	})
	return kind, epoch, err
}

// beginEpoch appends an EPOCH_BEGUN for epoch, for coordinator.Replay to
// record as the current one.
func beginEpoch(l *wal.Log, epoch uint32, now time.Time) error {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(&storagev1.EpochBegun{Epoch: epoch, TimeUnixNano: now.UnixNano()})
	if err != nil {
		return err
	}
	return l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: coordinator.TypeEpochBegun, Payload: payload})
		return err
	})
}
