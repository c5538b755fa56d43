package logtest

import (
	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/wal"
)

// Records returns every record of attempt of transaction id, in log order.
func Records(tx *wal.Tx, id ulid.ULID, attempt uint32) ([]wal.Record, error) {
	var out []wal.Record
	err := tx.Scan(1, func(r wal.Record) error {
		if r.TxID == id && r.Attempt == attempt {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
