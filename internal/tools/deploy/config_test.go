package deploy_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// Validate reports everything wrong at once; zero values are the defaults.
func TestValidate(t *testing.T) {
	require.NoError(t, deploy.Config{Stdout: io.Discard}.Validate())
	err := deploy.Config{BasePort: 65200, StopTimeout: -1}.Validate()
	require.ErrorContains(t, err, "base port 65200 is not in 1-65154")
	require.ErrorContains(t, err, "negative timeout")
	require.ErrorContains(t, err, "no stdout")
}

// MetricsPorts is the table of the package documentation, for any base.
func TestMetricsPorts(t *testing.T) {
	require.Equal(t, map[string]int{"gateway-1": 7090, "BankA": 7091, "BankB": 7092, "BankC": 7093, "etcd": 7381}, deploy.MetricsPorts(7000))
	require.Equal(t, 10381, deploy.MetricsPorts(10000)["etcd"])
}
