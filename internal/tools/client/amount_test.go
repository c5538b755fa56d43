package client_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/client"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"12.50", 1250}, {"12.5", 1250}, {"12", 1200}, {"0.01", 1}, {"0.1", 10},
		{"007.00", 700}, {"92233720368547758.07", math.MaxInt64},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := client.ParseAmount(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, in := range []string{
		"", ".", "12.", ".5", "12.505", "-1", "+1", "0", "0.00", "1e3", "1,00", " 1", "1 ",
		"12.5.0", "abc", "92233720368547758.08", "99999999999999999999", "0x10", "١٢",
	} {
		t.Run("bad "+in, func(t *testing.T) {
			_, err := client.ParseAmount(in)
			require.ErrorIs(t, err, client.ErrBadAmount)
		})
	}
}

func TestFormatAmount(t *testing.T) {
	require.Equal(t, "12.50", client.FormatAmount(1250))
	require.Equal(t, "0.01", client.FormatAmount(1))
	require.Equal(t, "-3.05", client.FormatAmount(-305))
	require.Equal(t, "92233720368547758.07", client.FormatAmount(math.MaxInt64))
	require.Equal(t, "-92233720368547758.08", client.FormatAmount(math.MinInt64))
}

// FuzzParseAmount checks that every accepted amount is positive and
// round-trips through FormatAmount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0.01", "1", "92233720368547758.07", "-1", "1.234", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := client.ParseAmount(s)
		if err != nil {
			require.ErrorIs(t, err, client.ErrBadAmount)
			return
		}
		require.Positive(t, n)
		back, err := client.ParseAmount(client.FormatAmount(n))
		require.NoError(t, err)
		require.Equal(t, n, back)
	})
}
