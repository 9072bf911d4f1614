package allsourceauth

import "time"

// The entity types below are stored as the payload of their events: the JSON of the
// struct, camelCase, with the field set of better-auth. Optional strings are "" when
// absent (encoded as an absent key), optional times are the zero time (likewise).

// User is an account holder. Email and Username are unique case-insensitively among live
// users; both are stored as given.
type User struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	Email            string         `json:"email,omitempty"`
	EmailVerified    bool           `json:"emailVerified"`
	Image            string         `json:"image,omitempty"`
	CreatedAt        time.Time      `json:"createdAt"`
	UpdatedAt        time.Time      `json:"updatedAt"`
	Username         string         `json:"username,omitempty"`
	DisplayUsername  string         `json:"displayUsername,omitempty"`
	TwoFactorEnabled bool           `json:"twoFactorEnabled"`
	Role             string         `json:"role,omitempty"`
	Banned           bool           `json:"banned"`
	BanReason        string         `json:"banReason,omitempty"`
	BanExpires       time.Time      `json:"banExpires,omitzero"`
	Metadata         map[string]any `json:"metadata,omitempty"`
}

// Session is a signed-in session, addressed by its Token (entity id auth-session:{token}).
type Session struct {
	ID                   string    `json:"id"`
	Token                string    `json:"token"`
	UserID               string    `json:"userId"`
	ExpiresAt            time.Time `json:"expiresAt"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
	IPAddress            string    `json:"ipAddress,omitempty"`
	UserAgent            string    `json:"userAgent,omitempty"`
	ImpersonatedBy       string    `json:"impersonatedBy,omitempty"`
	ActiveOrganizationID string    `json:"activeOrganizationId,omitempty"`
}

// Account links a user to a provider: an OAuth identity, or the "credential" provider
// holding a password hash. (ProviderID, AccountID) is unique among live accounts.
type Account struct {
	ID                    string    `json:"id"`
	AccountID             string    `json:"accountId"`
	ProviderID            string    `json:"providerId"`
	UserID                string    `json:"userId"`
	AccessToken           string    `json:"accessToken,omitempty"`
	RefreshToken          string    `json:"refreshToken,omitempty"`
	IDToken               string    `json:"idToken,omitempty"`
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt,omitzero"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt,omitzero"`
	Scope                 string    `json:"scope,omitempty"`
	Password              string    `json:"password,omitempty"` // a password hash, never a password
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
}

// Verification is a single-use token (email verification, password reset, magic link).
// Expired verifications are invisible to reads.
type Verification struct {
	ID         string    `json:"id"`
	Identifier string    `json:"identifier"`
	Value      string    `json:"value"`
	ExpiresAt  time.Time `json:"expiresAt"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Organization is a team of members. Slug is unique among live organizations.
type Organization struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Slug      string         `json:"slug"`
	Logo      string         `json:"logo,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// Member is a user's membership of an organization; (OrganizationID, UserID) is unique.
// Role may be a comma-separated list of roles.
type Member struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	UserID         string    `json:"userId"`
	Role           string    `json:"role"`
	CreatedAt      time.Time `json:"createdAt"`
}

// InvitationStatus is the state of an Invitation.
type InvitationStatus string

// The four invitation statuses; any transition between them is allowed.
const (
	InvitationPending  InvitationStatus = "pending"
	InvitationAccepted InvitationStatus = "accepted"
	InvitationRejected InvitationStatus = "rejected"
	InvitationCanceled InvitationStatus = "canceled"
)

// Invitation invites an email address into an organization. Email is stored lower-cased.
type Invitation struct {
	ID             string           `json:"id"`
	OrganizationID string           `json:"organizationId"`
	Email          string           `json:"email"`
	Role           string           `json:"role"`
	Status         InvitationStatus `json:"status"`
	InviterID      string           `json:"inviterId"`
	ExpiresAt      time.Time        `json:"expiresAt"`
	CreatedAt      time.Time        `json:"createdAt"`
}

// TwoFactor holds a user's TOTP secret and backup codes; at most one per user.
type TwoFactor struct {
	ID          string    `json:"id"`
	Secret      string    `json:"secret"`
	BackupCodes string    `json:"backupCodes,omitempty"`
	UserID      string    `json:"userId"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// APIKey is a hashed API key; KeyHash is unique (exact, case-sensitive).
type APIKey struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name,omitempty"`
	Start               string    `json:"start,omitempty"`
	Prefix              string    `json:"prefix,omitempty"`
	KeyHash             string    `json:"key"`
	UserID              string    `json:"userId"`
	RefillInterval      *int64    `json:"refillInterval,omitempty"`
	RefillAmount        *int64    `json:"refillAmount,omitempty"`
	LastRefillAt        time.Time `json:"lastRefillAt,omitzero"`
	Enabled             bool      `json:"enabled"`
	RateLimitEnabled    bool      `json:"rateLimitEnabled"`
	RateLimitTimeWindow *int64    `json:"rateLimitTimeWindow,omitempty"`
	RateLimitMax        *int64    `json:"rateLimitMax,omitempty"`
	RequestCount        int64     `json:"requestCount"`
	Remaining           *int64    `json:"remaining,omitempty"`
	LastRequest         time.Time `json:"lastRequest,omitzero"`
	ExpiresAt           time.Time `json:"expiresAt,omitzero"`
	CreatedAt           time.Time `json:"createdAt"`
	UpdatedAt           time.Time `json:"updatedAt"`
	Permissions         string    `json:"permissions,omitempty"`
	Metadata            string    `json:"metadata,omitempty"`
}

// Passkey is a WebAuthn credential; CredentialID is unique among live passkeys.
type Passkey struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	PublicKey    string    `json:"publicKey"`
	UserID       string    `json:"userId"`
	CredentialID string    `json:"credentialID"`
	Counter      uint64    `json:"counter"`
	DeviceType   string    `json:"deviceType"`
	BackedUp     bool      `json:"backedUp"`
	Transports   string    `json:"transports,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Ptr returns a pointer to v, for the fields of the Update* inputs:
// UpdateUser{Name: allsourceauth.Ptr("Ann")}.
func Ptr[T any](v T) *T { return &v }

// CreateUser is the input of CreateUser. Email and Username are optional but unique.
type CreateUser struct {
	ID              string // optional; a UUID v4 is generated when empty
	Email           string
	Name            string
	Image           string
	EmailVerified   bool
	Username        string
	DisplayUsername string
	Role            string
	Metadata        map[string]any
}

// UpdateUser is the input of UpdateUser: a nil field is left unchanged, a pointer sets the
// field, a pointer to "" or the zero time clears an optional field.
type UpdateUser struct {
	Email, Name, Image, Username, DisplayUsername, Role, BanReason *string
	EmailVerified, Banned, TwoFactorEnabled                        *bool
	BanExpires                                                     *time.Time
	Metadata                                                       map[string]any // nil: unchanged; non-nil replaces
}

// CreateSession is the input of CreateSession; UserID and ExpiresAt are required.
type CreateSession struct {
	UserID               string
	ExpiresAt            time.Time
	IPAddress            string
	UserAgent            string
	ImpersonatedBy       string
	ActiveOrganizationID string
}

// CreateAccount is the input of CreateAccount; UserID, AccountID and ProviderID are required.
type CreateAccount struct {
	UserID, AccountID, ProviderID               string
	AccessToken, RefreshToken, IDToken, Scope   string
	AccessTokenExpiresAt, RefreshTokenExpiresAt time.Time
	Password                                    string
}

// UpdateAccount is the input of UpdateAccount, with the Update* pointer rules.
type UpdateAccount struct {
	AccessToken, RefreshToken, IDToken, Scope, Password *string
	AccessTokenExpiresAt, RefreshTokenExpiresAt         *time.Time
}

// CreateVerification is the input of CreateVerification; every field is required.
type CreateVerification struct {
	Identifier string
	Value      string
	ExpiresAt  time.Time
}

// CreateOrganization is the input of CreateOrganization; Name and Slug are required.
type CreateOrganization struct {
	ID       string // optional; a UUID v4 is generated when empty
	Name     string
	Slug     string
	Logo     string
	Metadata map[string]any
}

// UpdateOrganization is the input of UpdateOrganization, with the Update* pointer rules.
type UpdateOrganization struct {
	Name, Slug, Logo *string
	Metadata         map[string]any // nil: unchanged
}

// CreateMember is the input of CreateMember; every field is required.
type CreateMember struct{ OrganizationID, UserID, Role string }

// CreateInvitation is the input of CreateInvitation; OrganizationID, Email and InviterID
// are required.
type CreateInvitation struct {
	OrganizationID, Email, Role, InviterID string
	ExpiresAt                              time.Time
}

// CreateTwoFactor is the input of CreateTwoFactor; UserID and Secret are required.
type CreateTwoFactor struct{ UserID, Secret, BackupCodes string }

// CreateAPIKey is the input of CreateAPIKey; UserID and KeyHash are required.
type CreateAPIKey struct {
	UserID, Name, Prefix, KeyHash, Start, Permissions, Metadata string
	ExpiresAt                                                   time.Time
	Remaining, RateLimitTimeWindow, RateLimitMax                *int64
	RefillInterval, RefillAmount                                *int64
	RateLimitEnabled, Enabled                                   bool
}

// UpdateAPIKey is the input of UpdateAPIKey: nil leaves a field, a value sets it, a zero
// time clears it.
type UpdateAPIKey struct {
	Name, Permissions, Metadata                  *string
	Enabled, RateLimitEnabled                    *bool
	Remaining, RateLimitTimeWindow, RateLimitMax *int64
	RefillInterval, RefillAmount, RequestCount   *int64
	ExpiresAt, LastRequest, LastRefillAt         *time.Time
}

// CreatePasskey is the input of CreatePasskey; UserID, CredentialID and PublicKey are required.
type CreatePasskey struct {
	UserID, Name, CredentialID, PublicKey, DeviceType, Transports string
	Counter                                                       uint64
	BackedUp                                                      bool
}

// ListUsersParams selects, orders and pages ListUsers. The zero value lists the first 100
// users by creation time.
type ListUsersParams struct {
	Limit, Offset                            int    // Limit 0 means 100
	SearchField, SearchValue, SearchOperator string // field "email"|"name"; op "contains"|"starts_with"|"ends_with"
	SortBy, SortDirection                    string // "email"|"name"|"createdAt"; "asc"|"desc"
	FilterField, FilterValue, FilterOperator string // field "email"|"name"|"role"; op "eq"|"ne"|"contains"|"starts_with"|"ends_with"
}
