package recovery

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgressBarStaysQuietForASecondThenDraws(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	bar := newProgressBar(&out, "BankA.db", func() time.Time { return now })

	bar.update(65536, 1000000)
	require.Empty(t, out.String(), "a check that ends within a second prints nothing")

	now = now.Add(1500 * time.Millisecond)
	bar.update(450000, 1000000)
	require.Equal(t, "\rchecking BankA.db [=========           ]  45% (450000/1000000 records)", out.String())

	bar.done()
	require.Contains(t, out.String(), "\r\033[K", "the line is cleared at the end")
}

func TestProgressBarThatNeverDrewClearsNothing(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out, "BankA.db", time.Now)
	bar.update(1, 10)
	bar.done()
	require.Empty(t, out.String())
}
