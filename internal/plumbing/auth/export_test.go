package auth

// Len is the number of entries held, expired ones included.
func (c *TokenCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Bound is the most entries the cache holds.
func (c *TokenCache) Bound() int { return c.max }

// SetSigner puts s in front of the cache instead of its Signer, keeping
// its entries.
func (c *TokenCache) SetSigner(s *Signer) { c.signer = s }

// Waiting is how many callers wait for a hashing slot.
func (g *HashGate) Waiting() int { return len(g.waiting) }
