package top_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/top"
)

func TestRender(t *testing.T) {
	nan := math.NaN()
	f := top.Frame{At: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC), Rows: []top.Row{
		{Name: "gateway-1", Kind: top.KindGateway, State: top.StateUp, PaymentsPerSec: 110,
			P50: 0.0075, P99: 0.0244, Held: 3, InDoubt: 0, FsyncP99: 0.000850, ErrorsPerSec: 2},
		top.Down("BankB", "connection refused"),
		{Name: "etcd", Kind: top.KindEtcd, State: top.StateStarting, PaymentsPerSec: nan,
			P50: nan, P99: nan, Held: nan, InDoubt: nan, FsyncP99: nan, ErrorsPerSec: nan},
	}}
	got := strings.Join(top.Render(f, time.Second), "\n")
	want := `strife top   15:04:05   every 1s
NAME         KIND     STATE          PAY/S       P50       P99    HELD  IN DOUBT  FSYNC P99    ERR/S
gateway-1    gateway  up             110.0     7.5ms    24.4ms       3         0      850µs      2.0
BankB        -        DOWN       connection refused
etcd         etcd     starting           -         -         -       -         -          -        -`
	require.Equal(t, want, got)
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"BankA=127.0.0.1:7091":               "http://127.0.0.1:7091/metrics",
		"BankA=http://127.0.0.1:7091":        "http://127.0.0.1:7091/metrics",
		"BankA=https://h:1/custom":           "https://h:1/custom",
		"g=http://127.0.0.1:7090/metrics?x=": "http://127.0.0.1:7090/metrics?x=",
	} {
		got, err := top.ParseTarget(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got.URL, in)
	}
	for _, bad := range []string{"", "BankA", "=127.0.0.1:1", "BankA=", "BankA=ftp://h/", "BankA=http://"} {
		_, err := top.ParseTarget(bad)
		require.Error(t, err, bad)
	}
	_, err := top.ParseTargets([]string{"a=h:1", "a=h:2"})
	require.ErrorContains(t, err, "twice")
}

func TestDefaultTargetsAreStrifeUps(t *testing.T) {
	var got []string
	for _, tg := range top.DefaultTargets(7000) {
		got = append(got, tg.Name+"="+tg.URL)
	}
	require.Equal(t, []string{
		"gateway-1=http://127.0.0.1:7090/metrics",
		"BankA=http://127.0.0.1:7091/metrics",
		"BankB=http://127.0.0.1:7092/metrics",
		"BankC=http://127.0.0.1:7093/metrics",
		"etcd=http://127.0.0.1:7381/metrics",
	}, got)
}
