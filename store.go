package allsourceauth

import (
	"context"
	"time"
)

// Store is everything an auth server keeps. *Adapter implements it; tests of code that
// uses a Store run it against allsourcetest. Methods follow these rules throughout:
//
//   - Get*, Update* and Consume* on something absent (never created, or deleted) return
//     an error wrapping ErrNotFound; Delete* of something absent returns nil.
//   - Taking a unique value a live entity holds returns ErrConflict and writes nothing.
//   - Bad input returns ErrInvalidInput before any request.
//   - Concurrent writers are serialised by Allsource's expected_version: concurrent
//     updates of one entity all land, concurrent creates of one unique value have exactly
//     one winner, and concurrent consumes of one verification exactly one taker.
type Store interface {
	UserOps
	SessionOps
	AccountOps
	VerificationOps
	OrganizationOps
	MemberOps
	InvitationOps
	TwoFactorOps
	APIKeyOps
	PasskeyOps
}

// UserOps stores users; email and username are unique case-insensitively.
type UserOps interface {
	CreateUser(ctx context.Context, in CreateUser) (*User, error)
	GetUserByID(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	UpdateUser(ctx context.Context, id string, in UpdateUser) (*User, error)
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, p ListUsersParams) (users []User, total int, err error)
}

// SessionOps stores sessions, addressed by token.
type SessionOps interface {
	CreateSession(ctx context.Context, in CreateSession) (*Session, error)
	GetSession(ctx context.Context, token string) (*Session, error)
	GetUserSessions(ctx context.Context, userID string) ([]Session, error)
	UpdateSessionExpiry(ctx context.Context, token string, expiresAt time.Time) error
	DeleteSession(ctx context.Context, token string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	DeleteExpiredSessions(ctx context.Context) (int, error)
	UpdateSessionActiveOrganization(ctx context.Context, token, organizationID string) (*Session, error) // "" clears
}

// AccountOps stores provider accounts; (provider, account id) is unique.
type AccountOps interface {
	CreateAccount(ctx context.Context, in CreateAccount) (*Account, error)
	GetAccount(ctx context.Context, providerID, accountID string) (*Account, error)
	GetUserAccounts(ctx context.Context, userID string) ([]Account, error)
	UpdateAccount(ctx context.Context, id string, in UpdateAccount) (*Account, error)
	DeleteAccount(ctx context.Context, id string) error
}

// VerificationOps stores single-use verification tokens; expired ones are invisible.
type VerificationOps interface {
	CreateVerification(ctx context.Context, in CreateVerification) (*Verification, error)
	GetVerification(ctx context.Context, identifier, value string) (*Verification, error)
	GetVerificationByValue(ctx context.Context, value string) (*Verification, error)
	GetVerificationByIdentifier(ctx context.Context, identifier string) (*Verification, error)
	ConsumeVerification(ctx context.Context, identifier, value string) (*Verification, error)
	DeleteVerification(ctx context.Context, id string) error
	DeleteExpiredVerifications(ctx context.Context) (int, error)
}

// OrganizationOps stores organizations; the slug is unique.
type OrganizationOps interface {
	CreateOrganization(ctx context.Context, in CreateOrganization) (*Organization, error)
	GetOrganizationByID(ctx context.Context, id string) (*Organization, error)
	GetOrganizationBySlug(ctx context.Context, slug string) (*Organization, error)
	UpdateOrganization(ctx context.Context, id string, in UpdateOrganization) (*Organization, error)
	DeleteOrganization(ctx context.Context, id string) error
	ListUserOrganizations(ctx context.Context, userID string) ([]Organization, error)
}

// MemberOps stores memberships; (organization, user) is unique.
type MemberOps interface {
	CreateMember(ctx context.Context, in CreateMember) (*Member, error)
	GetMember(ctx context.Context, organizationID, userID string) (*Member, error)
	GetMemberByID(ctx context.Context, id string) (*Member, error)
	UpdateMemberRole(ctx context.Context, memberID, role string) (*Member, error)
	DeleteMember(ctx context.Context, memberID string) error
	ListOrganizationMembers(ctx context.Context, organizationID string) ([]Member, error)
	CountOrganizationMembers(ctx context.Context, organizationID string) (int, error)
	CountOrganizationOwners(ctx context.Context, organizationID string) (int, error)
}

// InvitationOps stores invitations; emails are stored lower-cased.
type InvitationOps interface {
	CreateInvitation(ctx context.Context, in CreateInvitation) (*Invitation, error)
	GetInvitationByID(ctx context.Context, id string) (*Invitation, error)
	GetPendingInvitation(ctx context.Context, organizationID, email string) (*Invitation, error)
	UpdateInvitationStatus(ctx context.Context, id string, status InvitationStatus) (*Invitation, error)
	ListOrganizationInvitations(ctx context.Context, organizationID string) ([]Invitation, error)
	ListUserInvitations(ctx context.Context, email string) ([]Invitation, error)
}

// TwoFactorOps stores two-factor records, one per user, keyed by user id.
type TwoFactorOps interface {
	CreateTwoFactor(ctx context.Context, in CreateTwoFactor) (*TwoFactor, error)
	GetTwoFactorByUserID(ctx context.Context, userID string) (*TwoFactor, error)
	UpdateTwoFactorBackupCodes(ctx context.Context, userID, backupCodes string) (*TwoFactor, error)
	DeleteTwoFactor(ctx context.Context, userID string) error
}

// APIKeyOps stores hashed API keys; the hash is unique.
type APIKeyOps interface {
	CreateAPIKey(ctx context.Context, in CreateAPIKey) (*APIKey, error)
	GetAPIKeyByID(ctx context.Context, id string) (*APIKey, error)
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	ListAPIKeysByUser(ctx context.Context, userID string) ([]APIKey, error)
	UpdateAPIKey(ctx context.Context, id string, in UpdateAPIKey) (*APIKey, error)
	DeleteAPIKey(ctx context.Context, id string) error
	DeleteExpiredAPIKeys(ctx context.Context) (int, error)
}

// PasskeyOps stores WebAuthn passkeys; the credential id is unique.
type PasskeyOps interface {
	CreatePasskey(ctx context.Context, in CreatePasskey) (*Passkey, error)
	GetPasskeyByID(ctx context.Context, id string) (*Passkey, error)
	GetPasskeyByCredentialID(ctx context.Context, credentialID string) (*Passkey, error)
	ListPasskeysByUser(ctx context.Context, userID string) ([]Passkey, error)
	UpdatePasskeyCounter(ctx context.Context, id string, counter uint64) (*Passkey, error)
	UpdatePasskeyName(ctx context.Context, id, name string) (*Passkey, error)
	DeletePasskey(ctx context.Context, id string) error
}
