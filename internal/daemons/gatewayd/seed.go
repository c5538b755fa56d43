package gatewayd

import (
	"context"
	"fmt"
	"time"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// seedTimeout bounds the bank calls of seeding; seedBanksTimeout the wait
// for their banks to register in etcd before.
const (
	seedTimeout      = 30 * time.Second
	seedBanksTimeout = 30 * time.Second
)

// seed registers the users of the seed file if the user store is empty.
// The accounts are opened first (a repeat links them), then every user is
// stored in one transaction: a seed that fails halfway leaves the store
// empty, and the next start tries the whole file again.
func (g *Gateway) seed(s *service) error {
	if g.cfg.UsersFile == "" {
		return nil
	}
	if empty, err := s.users.Empty(); err != nil || !empty {
		return err
	}
	file, err := users.LoadSeed(g.cfg.UsersFile)
	if err != nil {
		return err
	}
	if err := g.awaitBanks(file); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
	defer cancel()
	seeded, err := s.seedUsers(ctx, file)
	if err == nil {
		err = s.users.Register(seeded...)
	}
	if err != nil {
		return fmt.Errorf("gatewayd: seeding users from %s: %w", g.cfg.UsersFile, err)
	}
	g.cfg.Log.Info().Int("users", len(seeded)).Str("file", g.cfg.UsersFile).Msg("new user store seeded")
	return nil
}

// awaitBanks waits until the banks of the seed file's accounts are
// registered in etcd: in a deployment that starts everything at once, the
// gateway may come up before the banks.
func (g *Gateway) awaitBanks(file *users.SeedFile) error {
	banks := seedBanks(file)
	if g.dir == nil || len(banks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), seedBanksTimeout)
	defer cancel()
	g.cfg.Log.Info().Strs("banks", banks).Msg("waiting for the banks of the users seed file")
	if err := g.dir.Wait(ctx, banks...); err != nil {
		return fmt.Errorf("gatewayd: seeding users from %s: %w", g.cfg.UsersFile, err)
	}
	return nil
}

func (s *service) seedUsers(ctx context.Context, file *users.SeedFile) ([]*storagev1.UserState, error) {
	var out []*storagev1.UserState
	seen := map[string]bool{}
	for _, su := range file.Users {
		if seen[su.Username] {
			return nil, fmt.Errorf("%w: user %q listed twice", ErrInvalid, su.Username)
		}
		seen[su.Username] = true
		u, err := s.newUser(ctx, seedRequest(su))
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", su.Username, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// seedRequest is the RegisterClient request a seed file's entry stands
// for. An unknown role becomes UNSPECIFIED, which registration refuses.
func seedRequest(su users.SeedUser) *strifev1.RegisterClientRequest {
	roles := map[string]strifev1.UserRole{"customer": strifev1.UserRole_USER_ROLE_CUSTOMER, "admin": strifev1.UserRole_USER_ROLE_ADMIN}
	return &strifev1.RegisterClientRequest{
		Username: su.Username, Password: su.Password, Role: roles[su.Role],
		Account: su.Account, OpeningBalance: su.OpeningBalance,
	}
}
