package deploy

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// A child's JSON line is shown in the console format and its message
// returned (up waits for a "serving" message); anything else is shown as it
// is.
func TestChildLines(t *testing.T) {
	var out bytes.Buffer
	o := newOutput(&out, false, []string{"BankA"})

	msg := o.child("BankA", []byte(`{"level":"info","bank":"BankA","addr":"127.0.0.1:7001","time":"2026-11-22T03:00:00Z","message":"bank serving"}`))
	require.Equal(t, "bank serving", msg)
	require.Contains(t, out.String(), "[BankA] ")
	require.Contains(t, out.String(), "INF bank serving")
	require.Contains(t, out.String(), "addr=127.0.0.1:7001")
	require.NotContains(t, out.String(), `"message"`)

	out.Reset()
	require.Empty(t, o.child("BankA", []byte("panic: something broke")))
	require.Equal(t, "[BankA] panic: something broke\n", out.String())
}

func BenchmarkChildLine(b *testing.B) {
	o := newOutput(&bytes.Buffer{}, false, []string{"gateway-1"})
	line := []byte(`{"level":"info","gateway":"gateway-1","method":"/strife.v1.GatewayService/Pay","peer":"127.0.0.1:40692","program":"alice","program_role":"client","user":"payer1","user_role":"customer","transaction_id":"01KAQ3Z5Y8F7M5XJ0E4W3V2T1S","amount":1,"code":"OK","duration_ms":3.2,"time":"2026-11-22T03:00:00Z","message":"grpc call"}`)
	for b.Loop() {
		o.child("gateway-1", line)
	}
}
