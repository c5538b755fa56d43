package coordinator

// Queued is how many messages wait in p's queue, for tests that must know
// a message is queued before they go on.
func Queued(p *GRPCParticipant) int {
	p.batch.mu.Lock()
	defer p.batch.mu.Unlock()
	return len(p.batch.queue)
}
