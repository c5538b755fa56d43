package inspect

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/wal"
)

// Every record type the log knows can be described: a type registered
// without a payload in its owner fails this test, not a tx listing in production.
func TestEveryRecordTypeHasAPayloadType(t *testing.T) {
	for i := range 256 {
		if typ := wal.Type(i); typ.Known() {
			require.NotNil(t, payloadOf(typ), "%v", typ)
		}
	}
}
