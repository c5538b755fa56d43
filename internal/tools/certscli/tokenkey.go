package certscli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// TokenKeyFile is the name of the gateway's token signing key in a
// directory written by Init: 64 lowercase hex characters (32 random bytes),
// no newline, mode 0600. The gateway signs HS256 login tokens with the 32
// decoded bytes.
const TokenKeyFile = "token.key"

// tokenKeyBytes is the HS256 key size: the size of its SHA-256 output.
const tokenKeyBytes = 32

func newTokenKey() ([]byte, error) {
	key := make([]byte, tokenKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("certscli: token key: %w", err)
	}
	return []byte(hex.EncodeToString(key)), nil
}
