package wal

import (
	"bytes"
	"testing"

	"github.com/oklog/ulid/v2"
)

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic, and
// whatever it accepts must encode back to exactly the same bytes. The
// seeds are PREPARED, COMMITTED and POSTED records (registered by package
// ledger, which the external tests link).
func FuzzDecode(f *testing.F) {
	id := ulid.MustParse("01JD0000000000000000000000")
	for _, r := range []Record{
		{Seq: 1, Type: 1, TxID: id, Attempt: 1, Payload: []byte("legs")},
		{Seq: 2, Type: 2, TxID: id, Attempt: 1},
		{Seq: 1 << 40, Type: 21, Payload: bytes.Repeat([]byte{0xff}, 300)},
	} {
		f.Add(encodeKey(r.Seq), encode(r))
	}
	f.Add(encodeKey(3), []byte{})
	f.Add([]byte{1, 2}, []byte("short"))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			return
		}
		if !bytes.Equal(encode(r), value) || !bytes.Equal(encodeKey(r.Seq), key) {
			t.Fatalf("decoded %+v does not encode back to its input", r)
		}
	})
}
