package certs

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
)

// keyPairFile serves a key pair from files, reloading it when either file
// changes on disk (another inode, modification time or size), so that a
// renewal written over the old paths takes effect at the next handshake.
// It costs two stats per handshake.
//
// If the files change but do not load (say a handshake falls between the
// two renames of Issued.WriteFiles), it keeps serving the last good pair
// and tries again at the next handshake.
type keyPairFile struct {
	certFile, keyFile string

	mu                sync.Mutex
	certStat, keyStat os.FileInfo // of the files pair was loaded from
	pair              *tls.Certificate
}

// newKeyPairFile loads the pair once, so that bad files fail at startup.
func newKeyPairFile(certFile, keyFile string) (*keyPairFile, error) {
	k := &keyPairFile{certFile: certFile, keyFile: keyFile}
	if _, err := k.get(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyPairFile) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.refresh()
	if k.pair == nil {
		return nil, err
	}
	return k.pair, nil
}

// refresh reloads the pair if the files changed; on error it leaves the
// current pair and stats untouched.
func (k *keyPairFile) refresh() error {
	certStat, err := os.Stat(k.certFile)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	keyStat, err := os.Stat(k.keyFile)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if k.pair != nil && sameFile(k.certStat, certStat) && sameFile(k.keyStat, keyStat) {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("certs: load %s, %s: %w", k.certFile, k.keyFile, err)
	}
	k.pair, k.certStat, k.keyStat = &pair, certStat, keyStat
	return nil
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
