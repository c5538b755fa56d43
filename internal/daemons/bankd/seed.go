package bankd

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/strife-pay/strife/ledger"
)

// SeedFile is the YAML format of a seed file: accounts of several banks, of
// which each bank opens its own.
//
//	accounts:
//	  - bank: BankA
//	    number: "1001"
//	    owner: alice
//	    opening_balance: 100000   # minor units: 1000.00
type SeedFile struct {
	Accounts []SeedAccount `yaml:"accounts"`
}

// SeedAccount is one account of a seed file.
type SeedAccount struct {
	Bank           string `yaml:"bank"`
	Number         string `yaml:"number"`
	Owner          string `yaml:"owner"`
	OpeningBalance int64  `yaml:"opening_balance"`
}

// LoadSeed reads and parses a seed file, rejecting unknown fields.
func LoadSeed(path string) (*SeedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var seed SeedFile
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&seed); err != nil {
		return nil, fmt.Errorf("bankd: seed file %s: %w", path, err)
	}
	return &seed, nil
}

// Seed opens the accounts of the named bank listed in a seed file, all in
// one transaction, and returns how many it opened.
func Seed(l *ledger.Ledger, path, bank string) (int, error) {
	seed, err := LoadSeed(path)
	if err != nil {
		return 0, err
	}
	var n int
	err = l.Update(func(tx *ledger.Tx) error {
		n = 0
		for _, a := range seed.Accounts {
			if a.Bank != bank {
				continue
			}
			if _, _, err := tx.OpenAccount(a.Number, a.Owner, a.OpeningBalance); err != nil {
				return fmt.Errorf("bankd: seed account %s/%s: %w", a.Bank, a.Number, err)
			}
			n++
		}
		return nil
	})
	return n, err
}
