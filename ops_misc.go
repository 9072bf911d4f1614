package allsourceauth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// accountKind: an account is claimed by (provider, account id).
var accountKind = &kind[Account]{
	name: "account", entity: "auth-account:", event: "auth.account.",
	key:     func(x *Account) string { return x.ID },
	created: func(x *Account) time.Time { return x.CreatedAt },
	claims: func(x *Account) []claimKey {
		return uniques("account", x.ProviderID+"\x00"+x.AccountID)
	},
}

var verificationKind = &kind[Verification]{
	name: "verification", entity: "auth-verification:", event: "auth.verification.",
	key:     func(v *Verification) string { return v.ID },
	created: func(v *Verification) time.Time { return v.CreatedAt },
}

// twoFactorKind: one two-factor record per user, claimed by user id.
var twoFactorKind = &kind[TwoFactor]{
	name: "two-factor", entity: "auth-2fa:", event: "auth.two_factor.",
	key:     func(t *TwoFactor) string { return t.ID },
	created: func(t *TwoFactor) time.Time { return t.CreatedAt },
	claims:  func(t *TwoFactor) []claimKey { return uniques("2fa", t.UserID) },
}

// apiKeyKind: API keys are claimed by key hash (exact).
var apiKeyKind = &kind[APIKey]{
	name: "api key", entity: "auth-apikey:", event: "auth.api_key.",
	key:     func(k *APIKey) string { return k.ID },
	created: func(k *APIKey) time.Time { return k.CreatedAt },
	claims:  func(k *APIKey) []claimKey { return uniques("apikey", k.KeyHash) },
}

// passkeyKind: passkeys are claimed by credential id (exact).
var passkeyKind = &kind[Passkey]{
	name: "passkey", entity: "auth-passkey:", event: "auth.passkey.",
	key:     func(p *Passkey) string { return p.ID },
	created: func(p *Passkey) time.Time { return p.CreatedAt },
	claims:  func(p *Passkey) []claimKey { return uniques("passkey", p.CredentialID) },
}

// ----- accounts

// CreateAccount links a user to a provider. UserID, ProviderID and AccountID are
// required; a live account with the same (ProviderID, AccountID) is ErrConflict. Password
// (a hash) is stored and returned.
func (a *Adapter) CreateAccount(ctx context.Context, in CreateAccount) (*Account, error) {
	if err := required("UserID", in.UserID, "ProviderID", in.ProviderID, "AccountID", in.AccountID); err != nil {
		return nil, wrapOp("create account", err)
	}
	now := a.clock()
	x := &Account{
		ID: uuid.NewString(), AccountID: in.AccountID, ProviderID: in.ProviderID, UserID: in.UserID,
		AccessToken: in.AccessToken, RefreshToken: in.RefreshToken, IDToken: in.IDToken,
		AccessTokenExpiresAt: in.AccessTokenExpiresAt, RefreshTokenExpiresAt: in.RefreshTokenExpiresAt,
		Scope: in.Scope, Password: in.Password, CreatedAt: now, UpdatedAt: now,
	}
	out, err := create(ctx, a, accountKind, x)
	return out, wrapOp("create account", err)
}

// GetAccount returns the live account of (providerID, accountID), exact, or ErrNotFound.
func (a *Adapter) GetAccount(ctx context.Context, providerID, accountID string) (*Account, error) {
	x, err := findVal(ctx, a, accountKind, nil, "providerId", providerID, "accountId", accountID)
	return x, wrapOp("get account", err)
}

// GetUserAccounts returns the user's live accounts, newest first.
func (a *Adapter) GetUserAccounts(ctx context.Context, userID string) ([]Account, error) {
	out, err := byUser(ctx, a, accountKind, userID)
	return out, wrapOp("get user accounts", err)
}

// UpdateAccount applies the non-nil fields of in and sets UpdatedAt; ErrNotFound when absent.
func (a *Adapter) UpdateAccount(ctx context.Context, id string, in UpdateAccount) (*Account, error) {
	now := a.clock()
	x, err := mutate(ctx, a, accountKind, id, "updated", false, nil, func(x *Account) error {
		set(&x.AccessToken, in.AccessToken)
		set(&x.RefreshToken, in.RefreshToken)
		set(&x.IDToken, in.IDToken)
		set(&x.Scope, in.Scope)
		set(&x.Password, in.Password)
		set(&x.AccessTokenExpiresAt, in.AccessTokenExpiresAt)
		set(&x.RefreshTokenExpiresAt, in.RefreshTokenExpiresAt)
		x.UpdatedAt = now
		return nil
	})
	return x, wrapOp("update account", err)
}

// DeleteAccount deletes the account, freeing (provider, account id). Absent is not an error.
func (a *Adapter) DeleteAccount(ctx context.Context, id string) error {
	return wrapOp("delete account", remove(ctx, a, accountKind, id))
}

// ----- verifications

// CreateVerification stores a verification token; Identifier, Value and ExpiresAt are
// required. Duplicates are allowed. One request.
func (a *Adapter) CreateVerification(ctx context.Context, in CreateVerification) (*Verification, error) {
	if err := required("Identifier", in.Identifier, "Value", in.Value); err != nil || in.ExpiresAt.IsZero() {
		return nil, wrapOp("create verification", invalid("Identifier, Value and ExpiresAt are required"))
	}
	now := a.clock()
	v := &Verification{ID: uuid.NewString(), Identifier: in.Identifier, Value: in.Value, ExpiresAt: in.ExpiresAt, CreatedAt: now, UpdatedAt: now}
	out, err := create(ctx, a, verificationKind, v)
	return out, wrapOp("create verification", err)
}

// unexpired keeps verifications with ExpiresAt > now.
func (a *Adapter) unexpired() func(*Verification) bool {
	now := a.clock()
	return func(v *Verification) bool { return v.ExpiresAt.After(now) }
}

// GetVerification returns the newest unexpired verification of (identifier, value), or
// ErrNotFound (expired ones are invisible).
func (a *Adapter) GetVerification(ctx context.Context, identifier, value string) (*Verification, error) {
	v, err := findVal(ctx, a, verificationKind, a.unexpired(), "identifier", identifier, "value", value)
	return v, wrapOp("get verification", err)
}

// GetVerificationByValue returns the newest unexpired verification with this value, or
// ErrNotFound.
func (a *Adapter) GetVerificationByValue(ctx context.Context, value string) (*Verification, error) {
	v, err := findVal(ctx, a, verificationKind, a.unexpired(), "value", value)
	return v, wrapOp("get verification by value", err)
}

// GetVerificationByIdentifier returns the newest unexpired verification of identifier, or
// ErrNotFound.
func (a *Adapter) GetVerificationByIdentifier(ctx context.Context, identifier string) (*Verification, error) {
	v, err := findVal(ctx, a, verificationKind, a.unexpired(), "identifier", identifier)
	return v, wrapOp("get verification by identifier", err)
}

// ConsumeVerification atomically takes the newest unexpired verification of (identifier,
// value) (event auth.verification.consumed) and returns it. Of concurrent consumes exactly
// one gets it; the others, and any later consume, get ErrNotFound. A wrong value leaves
// the record in place. Two requests.
func (a *Adapter) ConsumeVerification(ctx context.Context, identifier, value string) (*Verification, error) {
	if err := a.writable(); err != nil {
		return nil, wrapOp("consume verification", err)
	}
	live := a.unexpired()
	r, err := findOne(ctx, a, verificationKind, live, "identifier", identifier, "value", value)
	if err != nil {
		return nil, wrapOp("consume verification", err)
	}
	v, err := mutate(ctx, a, verificationKind, r.val.ID, "consumed", true, prefetched(a, verificationKind, *r), func(v *Verification) error {
		if !live(v) {
			return ErrNotFound
		}
		return nil
	})
	return v, wrapOp("consume verification", err)
}

// DeleteVerification deletes a verification by id; absent is not an error.
func (a *Adapter) DeleteVerification(ctx context.Context, id string) error {
	return wrapOp("delete verification", remove(ctx, a, verificationKind, id))
}

// DeleteExpiredVerifications deletes verifications with ExpiresAt <= now and returns how
// many it deleted.
func (a *Adapter) DeleteExpiredVerifications(ctx context.Context) (int, error) {
	live := a.unexpired()
	n, err := removeWhere(ctx, a, verificationKind, nil, func(v *Verification) bool { return !live(v) })
	return n, wrapOp("delete expired verifications", err)
}

// ----- two-factor

// CreateTwoFactor stores the user's two-factor secret; UserID and Secret are required and
// a user has at most one live record (ErrConflict).
func (a *Adapter) CreateTwoFactor(ctx context.Context, in CreateTwoFactor) (*TwoFactor, error) {
	if err := required("UserID", in.UserID, "Secret", in.Secret); err != nil {
		return nil, wrapOp("create two-factor", err)
	}
	now := a.clock()
	t := &TwoFactor{ID: uuid.NewString(), Secret: in.Secret, BackupCodes: in.BackupCodes, UserID: in.UserID, CreatedAt: now, UpdatedAt: now}
	out, err := create(ctx, a, twoFactorKind, t)
	return out, wrapOp("create two-factor", err)
}

// GetTwoFactorByUserID returns the user's two-factor record, or ErrNotFound.
func (a *Adapter) GetTwoFactorByUserID(ctx context.Context, userID string) (*TwoFactor, error) {
	if err := checkRef("user id", userID); err != nil {
		return nil, wrapOp("get two-factor", err)
	}
	t, err := findVal(ctx, a, twoFactorKind, nil, "userId", userID)
	return t, wrapOp("get two-factor", err)
}

// UpdateTwoFactorBackupCodes replaces the user's backup codes; ErrNotFound when the user
// has no two-factor record.
func (a *Adapter) UpdateTwoFactorBackupCodes(ctx context.Context, userID, backupCodes string) (*TwoFactor, error) {
	if err := a.writable(); err != nil {
		return nil, wrapOp("update two-factor backup codes", err)
	}
	if err := checkRef("user id", userID); err != nil {
		return nil, wrapOp("update two-factor backup codes", err)
	}
	r, err := findOne(ctx, a, twoFactorKind, nil, "userId", userID)
	if err != nil {
		return nil, wrapOp("update two-factor backup codes", err)
	}
	now := a.clock()
	t, err := mutate(ctx, a, twoFactorKind, r.val.ID, "updated", false, prefetched(a, twoFactorKind, *r), func(t *TwoFactor) error {
		t.BackupCodes, t.UpdatedAt = backupCodes, now
		return nil
	})
	return t, wrapOp("update two-factor backup codes", err)
}

// DeleteTwoFactor deletes the user's two-factor record, freeing the user for a new one.
// A user without one is not an error.
func (a *Adapter) DeleteTwoFactor(ctx context.Context, userID string) error {
	if err := checkRef("user id", userID); err != nil {
		return wrapOp("delete two-factor", err)
	}
	_, err := removeWhere(ctx, a, twoFactorKind, userFilter(userID), nil)
	return wrapOp("delete two-factor", err)
}

// ----- API keys

// CreateAPIKey stores an API key; UserID and KeyHash are required and a hash held by a
// live key is ErrConflict. RequestCount starts at 0.
func (a *Adapter) CreateAPIKey(ctx context.Context, in CreateAPIKey) (*APIKey, error) {
	if err := required("UserID", in.UserID, "KeyHash", in.KeyHash); err != nil {
		return nil, wrapOp("create api key", err)
	}
	now := a.clock()
	k := &APIKey{
		ID: uuid.NewString(), Name: in.Name, Start: in.Start, Prefix: in.Prefix, KeyHash: in.KeyHash,
		UserID: in.UserID, RefillInterval: in.RefillInterval, RefillAmount: in.RefillAmount,
		Enabled: in.Enabled, RateLimitEnabled: in.RateLimitEnabled, RateLimitTimeWindow: in.RateLimitTimeWindow,
		RateLimitMax: in.RateLimitMax, Remaining: in.Remaining, ExpiresAt: in.ExpiresAt,
		CreatedAt: now, UpdatedAt: now, Permissions: in.Permissions, Metadata: in.Metadata,
	}
	out, err := create(ctx, a, apiKeyKind, k)
	return out, wrapOp("create api key", err)
}

// GetAPIKeyByID returns the live API key, or ErrNotFound.
func (a *Adapter) GetAPIKeyByID(ctx context.Context, id string) (*APIKey, error) {
	k, err := get(ctx, a, apiKeyKind, id)
	return k, wrapOp("get api key", err)
}

// GetAPIKeyByHash returns the live API key with this hash (exact, case-sensitive), or
// ErrNotFound. One query page.
func (a *Adapter) GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k, err := findVal(ctx, a, apiKeyKind, nil, "key", hash)
	return k, wrapOp("get api key by hash", err)
}

// ListAPIKeysByUser returns the user's live API keys, newest first.
func (a *Adapter) ListAPIKeysByUser(ctx context.Context, userID string) ([]APIKey, error) {
	out, err := byUser(ctx, a, apiKeyKind, userID)
	return out, wrapOp("list api keys", err)
}

// UpdateAPIKey applies the non-nil fields of in (a zero time clears it) and sets
// UpdatedAt; ErrNotFound when absent.
func (a *Adapter) UpdateAPIKey(ctx context.Context, id string, in UpdateAPIKey) (*APIKey, error) {
	now := a.clock()
	k, err := mutate(ctx, a, apiKeyKind, id, "updated", false, nil, func(k *APIKey) error {
		set(&k.Name, in.Name)
		set(&k.Permissions, in.Permissions)
		set(&k.Metadata, in.Metadata)
		set(&k.Enabled, in.Enabled)
		set(&k.RateLimitEnabled, in.RateLimitEnabled)
		setPtr(&k.Remaining, in.Remaining)
		setPtr(&k.RateLimitTimeWindow, in.RateLimitTimeWindow)
		setPtr(&k.RateLimitMax, in.RateLimitMax)
		setPtr(&k.RefillInterval, in.RefillInterval)
		setPtr(&k.RefillAmount, in.RefillAmount)
		set(&k.RequestCount, in.RequestCount)
		set(&k.ExpiresAt, in.ExpiresAt)
		set(&k.LastRequest, in.LastRequest)
		set(&k.LastRefillAt, in.LastRefillAt)
		k.UpdatedAt = now
		return nil
	})
	return k, wrapOp("update api key", err)
}

// setPtr replaces an optional number when src is non-nil.
func setPtr(dst **int64, src *int64) {
	if src != nil {
		*dst = Ptr(*src)
	}
}

// DeleteAPIKey deletes the key, freeing its hash; absent is not an error.
func (a *Adapter) DeleteAPIKey(ctx context.Context, id string) error {
	return wrapOp("delete api key", remove(ctx, a, apiKeyKind, id))
}

// DeleteExpiredAPIKeys deletes keys with a set ExpiresAt <= now and returns how many.
func (a *Adapter) DeleteExpiredAPIKeys(ctx context.Context) (int, error) {
	now := a.clock()
	n, err := removeWhere(ctx, a, apiKeyKind, nil, func(k *APIKey) bool {
		return !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
	})
	return n, wrapOp("delete expired api keys", err)
}

// ----- passkeys

// CreatePasskey stores a passkey; UserID, CredentialID and PublicKey are required and a
// credential id held by a live passkey is ErrConflict.
func (a *Adapter) CreatePasskey(ctx context.Context, in CreatePasskey) (*Passkey, error) {
	if err := required("UserID", in.UserID, "CredentialID", in.CredentialID, "PublicKey", in.PublicKey); err != nil {
		return nil, wrapOp("create passkey", err)
	}
	p := &Passkey{
		ID: uuid.NewString(), Name: in.Name, PublicKey: in.PublicKey, UserID: in.UserID,
		CredentialID: in.CredentialID, Counter: in.Counter, DeviceType: in.DeviceType,
		BackedUp: in.BackedUp, Transports: in.Transports, CreatedAt: a.clock(),
	}
	out, err := create(ctx, a, passkeyKind, p)
	return out, wrapOp("create passkey", err)
}

// GetPasskeyByID returns the live passkey, or ErrNotFound.
func (a *Adapter) GetPasskeyByID(ctx context.Context, id string) (*Passkey, error) {
	p, err := get(ctx, a, passkeyKind, id)
	return p, wrapOp("get passkey", err)
}

// GetPasskeyByCredentialID returns the live passkey with this credential id, or
// ErrNotFound. One query page.
func (a *Adapter) GetPasskeyByCredentialID(ctx context.Context, credentialID string) (*Passkey, error) {
	p, err := findVal(ctx, a, passkeyKind, nil, "credentialID", credentialID)
	return p, wrapOp("get passkey by credential id", err)
}

// ListPasskeysByUser returns the user's live passkeys, newest first.
func (a *Adapter) ListPasskeysByUser(ctx context.Context, userID string) ([]Passkey, error) {
	out, err := byUser(ctx, a, passkeyKind, userID)
	return out, wrapOp("list passkeys", err)
}

// UpdatePasskeyCounter sets the signature counter; ErrNotFound when absent.
func (a *Adapter) UpdatePasskeyCounter(ctx context.Context, id string, counter uint64) (*Passkey, error) {
	p, err := mutate(ctx, a, passkeyKind, id, "updated", false, nil, func(p *Passkey) error {
		p.Counter = counter
		return nil
	})
	return p, wrapOp("update passkey counter", err)
}

// UpdatePasskeyName renames the passkey; ErrNotFound when absent.
func (a *Adapter) UpdatePasskeyName(ctx context.Context, id, name string) (*Passkey, error) {
	p, err := mutate(ctx, a, passkeyKind, id, "updated", false, nil, func(p *Passkey) error {
		p.Name = name
		return nil
	})
	return p, wrapOp("update passkey name", err)
}

// DeletePasskey deletes the passkey, freeing its credential id; absent is not an error.
func (a *Adapter) DeletePasskey(ctx context.Context, id string) error {
	return wrapOp("delete passkey", remove(ctx, a, passkeyKind, id))
}
