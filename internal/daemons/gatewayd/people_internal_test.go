package gatewayd

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
)

// TestMessagesForPeople: what a caller reads has no package prefix, where
// an error's text begins, and only there (issue 15).
func TestMessagesForPeople(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{noUser("mallory").Error(), "no user named mallory"},
		{fmt.Errorf("%w: 01ABC", coordinator.ErrNotFound).Error(), "no such payment: 01ABC"},
		{fmt.Errorf("%w: 01ABC", coordinator.ErrConflict).Error(), "transaction ID already used with other parameters: 01ABC"},
		{"invalid request: the bank of BankB/1 refused the request: participant: bad account", "invalid request: the bank of BankB/1 refused the request: bad account"},
		{"gatewayd: no such user: \"mallory\"", "no such user: \"mallory\""},
		{"memo mentions oauth: fine", "memo mentions oauth: fine"},
	} {
		require.Equal(t, tc.want, forPeople(tc.in))
	}
}
