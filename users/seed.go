package users

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// SeedFile is the YAML format of a users seed file, for demo deployments:
// the users to register when the gateway's user store is empty.
//
//	users:
//	  - username: admin
//	    password: "admin password"
//	    role: admin                # or customer
//	  - username: alice
//	    password: "alice password"
//	    role: customer
//	    account: BankA/1001        # opened at the bank with owner alice,
//	    opening_balance: 100000    # or linked if the bank has it for alice
//
// The file holds passwords in clear text: keep it 0600, and use it for demos
// only. The gateway checks each entry as a RegisterClient request.
type SeedFile struct {
	Users []SeedUser `yaml:"users"`
}

// SeedUser is one user of a seed file.
type SeedUser struct {
	Username       string `yaml:"username"`
	Password       string `yaml:"password"`
	Role           string `yaml:"role"`
	Account        string `yaml:"account"`
	OpeningBalance int64  `yaml:"opening_balance"`
}

// LoadSeed reads and parses a users seed file, rejecting unknown fields.
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
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return &seed, nil
}
