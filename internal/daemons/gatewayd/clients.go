package gatewayd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// Login checks a password and issues a token bound to the certificate of
// the connection, naming the user's credential version. An unknown user
// costs the same bcrypt comparison as a wrong password, gets the same
// answer, and is throttled the same way (logins.check): RESOURCE_EXHAUSTED
// with a retry time, before any bcrypt work, once the name or the
// certificate failed too often. A locked user with the right password is
// refused (ErrLocked).
func (s *service) Login(ctx context.Context, req *strifev1.LoginRequest) (*strifev1.LoginResponse, error) {
	p, ok := rpc.PrincipalFrom(ctx)
	if !ok || p.Cert == nil {
		return nil, s.reply("Login", errNoCaller)
	}
	u, err := s.loginUser(req.GetUsername())
	if err != nil {
		return nil, s.reply("Login", err)
	}
	if err := s.logins.check(ctx, req.GetUsername(), p.Cert, u.GetPasswordHash(), req.GetPassword(), ErrBadLogin); err != nil {
		s.metrics.loginRefused(err, u != nil)
		return nil, s.reply("Login", err)
	}
	if u.GetLocked() {
		s.metrics.loginRefused(ErrLocked, true)
		return nil, s.reply("Login", ErrLocked)
	}
	token, exp, err := s.signer.Issue(u.GetUsername(), auth.RoleName(u.GetRole()), u.GetCredentialVersion(), p.Cert)
	if err != nil {
		return nil, s.reply("Login", err)
	}
	return &strifev1.LoginResponse{Token: token, ExpiresAt: timestamppb.New(exp), User: userProto(u)}, nil
}

// loginUser returns the user named, or nil if there is none.
func (s *service) loginUser(name string) (*storagev1.UserState, error) {
	if users.ValidUsername(name) != nil {
		return nil, nil
	}
	u, err := s.users.Get(name)
	if errors.Is(err, ErrNoUser) {
		return nil, nil
	}
	return u, err
}

// RegisterClient creates a user and opens (or links) their account.
func (s *service) RegisterClient(ctx context.Context, req *strifev1.RegisterClientRequest) (*strifev1.RegisterClientResponse, error) {
	p, err := caller(ctx)
	if err == nil && p.UserRole != auth.RoleAdmin {
		err = fmt.Errorf("%w: only admins register clients", ErrDenied)
	}
	var u *storagev1.UserState
	if err == nil {
		u, err = s.newUser(ctx, req)
	}
	if err == nil {
		err = s.users.Register(u)
	}
	if err != nil {
		return nil, s.reply("RegisterClient", err)
	}
	return &strifev1.RegisterClientResponse{User: userProto(u)}, nil
}

// newUser does everything for a registration but store the user: it
// validates the request, refuses a taken username or account before
// touching the bank, hashes the password, and opens the account with the
// username as its owner (or links it, if the bank already has it with that
// owner).
func (s *service) newUser(ctx context.Context, req *strifev1.RegisterClientRequest) (*storagev1.UserState, error) {
	if err := s.checkRegistration(req); err != nil {
		return nil, err
	}
	if err := s.free(req.GetUsername(), req.GetAccount()); err != nil {
		return nil, err
	}
	hash, err := s.logins.hash(ctx, req.GetPassword())
	if err != nil {
		return nil, err
	}
	u := &storagev1.UserState{Username: req.GetUsername(), Role: req.GetRole(), PasswordHash: hash, CreatedUnixNano: s.now().UnixNano()}
	if account := req.GetAccount(); account != "" {
		if err := s.openAccount(ctx, account, u.Username, req.GetOpeningBalance()); err != nil {
			return nil, err
		}
		u.Accounts, u.DefaultAccount = []string{account}, account
	}
	return u, nil
}

// checkRegistration validates a registration. Only an admin may have no
// account: a customer without one could do nothing.
func (s *service) checkRegistration(req *strifev1.RegisterClientRequest) error {
	if err := users.ValidUsername(req.GetUsername()); err != nil {
		return err
	}
	if auth.RoleName(req.GetRole()) == "" {
		return fmt.Errorf("%w: role must be customer or admin", ErrInvalid)
	}
	if req.GetOpeningBalance() < 0 {
		return fmt.Errorf("%w: opening_balance %d is negative", ErrInvalid, req.GetOpeningBalance())
	}
	if req.GetAccount() == "" {
		if req.GetRole() != strifev1.UserRole_USER_ROLE_ADMIN || req.GetOpeningBalance() != 0 {
			return fmt.Errorf("%w: account is required", ErrInvalid)
		}
		return nil
	}
	_, _, err := s.checkAccount(req.GetAccount())
	return err
}

// free checks that a username is not taken and an account ("" for none)
// is not another user's.
func (s *service) free(name, account string) error {
	_, err := s.users.Get(name)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	case !errors.Is(err, ErrNoUser):
		return err
	case account == "":
		return nil
	}
	owner, err := s.users.Owner(account)
	if err == nil && owner != "" {
		err = fmt.Errorf("%w: %s", ErrAccountTaken, account)
	}
	return err
}

// checkAccount checks an account address from a request: well-formed, at a
// bank the gateway knows to exist, up or not (knownBanks.check).
func (s *service) checkAccount(account string) (bank, number string, err error) {
	bank, number, err = users.SplitAccount(account)
	if err == nil {
		err = s.known.check(bank)
	}
	return bank, number, err
}

func (s *service) openAccount(ctx context.Context, account, owner string, opening int64) error {
	bank, number, err := s.bank(account)
	if err != nil {
		return err
	}
	_, err = bank.OpenAccount(ctx, &strifev1.OpenAccountRequest{Number: number, Owner: owner, OpeningBalance: opening})
	return bankError(account, err)
}

// bankAccount returns an account as its bank reports it.
func (s *service) bankAccount(ctx context.Context, account string) (*strifev1.Account, error) {
	bank, number, err := s.bank(account)
	if err != nil {
		return nil, err
	}
	resp, err := bank.GetAccount(ctx, &strifev1.GetAccountRequest{Number: number})
	if err != nil {
		return nil, bankError(account, err)
	}
	return resp.GetAccount(), nil
}

// bank returns the client of an account's bank and the account's number.
func (s *service) bank(account string) (strifev1.BankServiceClient, string, error) {
	bank, number, err := users.SplitAccount(account)
	if err != nil {
		return nil, "", err
	}
	client := s.banks.client(bank)
	if client == nil {
		return nil, "", fmt.Errorf("%w: %s is not available", ErrBankUnavailable, bank)
	}
	return client, number, nil
}

// bankError turns a bank's answer about an account into the gateway's
// errors. The bank's status code is never passed on as it is: a bank that
// refuses the gateway (PERMISSION_DENIED) must not look like the client
// being refused, and the bank's wording is not the gateway's API.
func bankError(account string, err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", ErrNoAccount, account)
	case codes.AlreadyExists:
		return fmt.Errorf("%w: %s has another owner at its bank", ErrAccountTaken, account)
	case codes.InvalidArgument:
		return fmt.Errorf("%w: the bank of %s refused the request: %s", ErrInvalid, account, st.Message())
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%w: the bank of %s: %s", ErrBankUnavailable, account, st.Message())
	case codes.Canceled:
		return context.Canceled
	}
	return fmt.Errorf("gatewayd: the bank of %s answered %v: %s", account, st.Code(), st.Message())
}

// UpdateClientDetails changes a user's password or default account, or
// links another of their accounts. A customer may change only themself.
func (s *service) UpdateClientDetails(ctx context.Context, req *strifev1.UpdateClientDetailsRequest) (*strifev1.UpdateClientDetailsResponse, error) {
	u, err := s.updateDetails(ctx, req)
	if err != nil {
		return nil, s.reply("UpdateClientDetails", err)
	}
	return &strifev1.UpdateClientDetailsResponse{User: userProto(u)}, nil
}

func (s *service) updateDetails(ctx context.Context, req *strifev1.UpdateClientDetailsRequest) (*storagev1.UserState, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	name, err := subject(p, req.GetUsername())
	if err != nil {
		return nil, err
	}
	u, err := s.users.Get(name)
	if err != nil {
		return nil, err
	}
	hash, err := s.passwordChange(ctx, p, u, req)
	if err != nil {
		return nil, err
	}
	if err := checkRoleChange(p, name, req.GetRole()); err != nil {
		return nil, err
	}
	if link := req.GetLinkAccount(); link != "" {
		if err := s.checkLink(ctx, name, link); err != nil {
			return nil, err
		}
	}
	return s.users.Update(name, changeDetails(hash, req.GetLinkAccount(), req.GetDefaultAccount(), req.GetRole()))
}

// checkRoleChange checks a request to set a user's role (UNSPECIFIED for
// none): only an admin, and not for themself, so that the last admin
// cannot demote themself by mistake.
func checkRoleChange(p rpc.Principal, name string, role strifev1.UserRole) error {
	switch {
	case role == strifev1.UserRole_USER_ROLE_UNSPECIFIED:
		return nil
	case auth.RoleName(role) == "":
		return fmt.Errorf("%w: role must be customer or admin", ErrInvalid)
	case p.UserRole != auth.RoleAdmin:
		return fmt.Errorf("%w: only admins change roles", ErrDenied)
	case name == p.User:
		return fmt.Errorf("%w: an admin cannot change their own role", ErrDenied)
	}
	return nil
}

// passwordChange returns the hash of the new password, or nil if there is
// none. Whoever changes their own password must give the current one (a
// stolen token alone cannot take over an account); an admin resetting
// another user's password need not. The current password is checked
// within the login throttles, so a stolen token cannot be used to guess it.
func (s *service) passwordChange(ctx context.Context, p rpc.Principal, u *storagev1.UserState, req *strifev1.UpdateClientDetailsRequest) ([]byte, error) {
	if req.GetNewPassword() == "" {
		return nil, nil
	}
	if u.GetUsername() == p.User {
		if err := s.logins.check(ctx, p.User, p.Cert, u.GetPasswordHash(), req.GetCurrentPassword(), ErrWrongPassword); err != nil {
			return nil, err
		}
	}
	return s.logins.hash(ctx, req.GetNewPassword())
}

// checkLink checks that the account exists at its bank with user as its
// owner: only an account the bank says is theirs can be linked.
func (s *service) checkLink(ctx context.Context, user, account string) error {
	if _, _, err := s.checkAccount(account); err != nil {
		return err
	}
	a, err := s.bankAccount(ctx, account)
	if err != nil {
		return err
	}
	if a.GetOwner() != user {
		return fmt.Errorf("%w: account %s does not belong to %s at its bank", ErrDenied, account, user)
	}
	return nil
}

// changeDetails is the change of an update, applied to the user as stored
// (users.Store.Update): link first, so that the linked account may become the
// default in the same request.
func changeDetails(hash []byte, link, def string, role strifev1.UserRole) func(*storagev1.UserState) error {
	return func(u *storagev1.UserState) error {
		if hash != nil {
			u.PasswordHash = hash
		}
		if role != strifev1.UserRole_USER_ROLE_UNSPECIFIED {
			u.Role = role
		}
		if link != "" && !slices.Contains(u.Accounts, link) {
			u.Accounts = append(u.Accounts, link)
			if u.DefaultAccount == "" {
				u.DefaultAccount = link
			}
		}
		if def != "" {
			u.DefaultAccount = def // users.Store.Update refuses one that is not the user's
		}
		return nil
	}
}

// GetBalance returns each of the caller's accounts as its bank reports it,
// in the order of the user's accounts. If a bank cannot answer, the call
// fails: a partial list would look like a complete one.
func (s *service) GetBalance(ctx context.Context, _ *strifev1.GetBalanceRequest) (*strifev1.GetBalanceResponse, error) {
	accounts, err := s.balances(ctx)
	if err != nil {
		return nil, s.reply("GetBalance", err)
	}
	return &strifev1.GetBalanceResponse{Accounts: accounts}, nil
}

func (s *service) balances(ctx context.Context) ([]*strifev1.Account, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.users.Get(p.User)
	if err != nil {
		return nil, err
	}
	var out []*strifev1.Account
	for _, account := range u.GetAccounts() {
		a, err := s.bankAccount(ctx, account)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func userProto(u *storagev1.UserState) *strifev1.User {
	return &strifev1.User{
		Username: u.GetUsername(), Role: u.GetRole(), Accounts: slices.Clone(u.GetAccounts()),
		DefaultAccount: u.GetDefaultAccount(), CreatedAt: timestamppb.New(time.Unix(0, u.GetCreatedUnixNano())),
		Locked: u.GetLocked(),
	}
}

// Logout revokes the token the call carries (Users.Revoke): durable before
// the answer, and in the token cache's Revocations from then on.
func (s *service) Logout(ctx context.Context, _ *strifev1.LogoutRequest) (*strifev1.LogoutResponse, error) {
	p, err := caller(ctx)
	if err == nil {
		err = s.users.Revoke(p.Token, s.now())
	}
	if err != nil {
		return nil, s.reply("Logout", err)
	}
	return &strifev1.LogoutResponse{}, nil
}

// LockUser locks a user out or lets them in again (admins only, not
// themself). Locking moves the user's credential version on, so every
// token of theirs is refused from the answer on; the change is a
// USER_UPDATED record, and the audit line names the user (target).
func (s *service) LockUser(ctx context.Context, req *strifev1.LockUserRequest) (*strifev1.LockUserResponse, error) {
	u, err := s.lockUser(ctx, req)
	if err != nil {
		return nil, s.reply("LockUser", err)
	}
	return &strifev1.LockUserResponse{User: userProto(u)}, nil
}

func (s *service) lockUser(ctx context.Context, req *strifev1.LockUserRequest) (*storagev1.UserState, error) {
	p, err := caller(ctx)
	switch {
	case err != nil:
		return nil, err
	case p.UserRole != auth.RoleAdmin:
		return nil, fmt.Errorf("%w: only admins lock users", ErrDenied)
	}
	if err := users.ValidUsername(req.GetUsername()); err != nil {
		return nil, err
	}
	rpc.CallFrom(ctx).SetTarget(req.GetUsername())
	if req.GetUsername() == p.User {
		return nil, fmt.Errorf("%w: an admin cannot lock themself", ErrDenied)
	}
	u, err := s.users.Update(req.GetUsername(), func(u *storagev1.UserState) error {
		u.Locked = req.GetLocked()
		return nil
	})
	if err == nil {
		s.log.Info().Str("admin", p.User).Str("target", u.GetUsername()).Bool("locked", u.GetLocked()).Msg("user lock changed")
	}
	return u, err
}
