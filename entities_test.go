package allsourceauth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// entRoundTrip checks that v decodes back from its JSON to an equal value.
func entRoundTrip[T any](t *testing.T, v *T) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	got := new(T)
	require.NoError(t, json.Unmarshal(b, got))
	assert.Equal(t, v, got)
}

var (
	entT1 = time.Date(2026, 9, 21, 10, 0, 0, 123456789, time.UTC)
	entT2 = time.Date(2026, 9, 22, 11, 30, 0, 1, time.UTC)
	entT3 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

func TestEntityJSONKeys(t *testing.T) {
	t.Parallel()
	i64 := allsourceauth.Ptr[int64]
	tests := []struct {
		name      string
		full      any
		fullKeys  []string
		empty     any
		emptyKeys []string // keys that must stay when every optional field is empty
	}{
		{
			name: "User",
			full: &allsourceauth.User{
				ID: "u1", Name: "Ann", Email: "ann@example.com", EmailVerified: true, Image: "https://img/x.png",
				CreatedAt: entT1, UpdatedAt: entT2, Username: "ann", DisplayUsername: "Ann!", TwoFactorEnabled: true,
				Role: "admin", Banned: true, BanReason: "spam", BanExpires: entT3, Metadata: map[string]any{"k": "v"},
			},
			fullKeys: []string{"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "username",
				"displayUsername", "twoFactorEnabled", "role", "banned", "banReason", "banExpires", "metadata"},
			empty:     &allsourceauth.User{ID: "u1", CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "emailVerified", "createdAt", "updatedAt", "twoFactorEnabled", "banned"},
		},
		{
			name: "Session",
			full: &allsourceauth.Session{
				ID: "s1", Token: "session_x", UserID: "u1", ExpiresAt: entT3, CreatedAt: entT1, UpdatedAt: entT2,
				IPAddress: "10.0.0.1", UserAgent: "curl", ImpersonatedBy: "u0", ActiveOrganizationID: "o1",
			},
			fullKeys: []string{"id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress",
				"userAgent", "impersonatedBy", "activeOrganizationId"},
			empty:     &allsourceauth.Session{ID: "s1", Token: "t", UserID: "u1", ExpiresAt: entT3, CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "token", "userId", "expiresAt", "createdAt", "updatedAt"},
		},
		{
			name: "Account",
			full: &allsourceauth.Account{
				ID: "a1", AccountID: "gh-1", ProviderID: "github", UserID: "u1", AccessToken: "at", RefreshToken: "rt",
				IDToken: "it", AccessTokenExpiresAt: entT2, RefreshTokenExpiresAt: entT3, Scope: "read",
				Password: "$argon2id$v=19$hash", CreatedAt: entT1, UpdatedAt: entT2,
			},
			fullKeys: []string{"id", "accountId", "providerId", "userId", "accessToken", "refreshToken", "idToken",
				"accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"},
			empty:     &allsourceauth.Account{ID: "a1", AccountID: "x", ProviderID: "p", UserID: "u1", CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "accountId", "providerId", "userId", "createdAt", "updatedAt"},
		},
		{
			name: "Verification",
			full: &allsourceauth.Verification{ID: "v1", Identifier: "email:ann", Value: "tok", ExpiresAt: entT3,
				CreatedAt: entT1, UpdatedAt: entT2},
			fullKeys:  []string{"id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"},
			empty:     &allsourceauth.Verification{},
			emptyKeys: []string{"id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"},
		},
		{
			name: "Organization",
			full: &allsourceauth.Organization{ID: "o1", Name: "Acme", Slug: "acme", Logo: "https://logo",
				Metadata: map[string]any{"plan": "pro"}, CreatedAt: entT1, UpdatedAt: entT2},
			fullKeys:  []string{"id", "name", "slug", "logo", "metadata", "createdAt", "updatedAt"},
			empty:     &allsourceauth.Organization{ID: "o1", Name: "Acme", Slug: "acme", CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "name", "slug", "createdAt", "updatedAt"},
		},
		{
			name:      "Member",
			full:      &allsourceauth.Member{ID: "m1", OrganizationID: "o1", UserID: "u1", Role: "owner", CreatedAt: entT1},
			fullKeys:  []string{"id", "organizationId", "userId", "role", "createdAt"},
			empty:     &allsourceauth.Member{},
			emptyKeys: []string{"id", "organizationId", "userId", "role", "createdAt"},
		},
		{
			name: "Invitation",
			full: &allsourceauth.Invitation{ID: "i1", OrganizationID: "o1", Email: "bob@example.com", Role: "member",
				Status: allsourceauth.InvitationPending, InviterID: "u1", ExpiresAt: entT3, CreatedAt: entT1},
			fullKeys:  []string{"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt"},
			empty:     &allsourceauth.Invitation{},
			emptyKeys: []string{"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt"},
		},
		{
			name: "TwoFactor",
			full: &allsourceauth.TwoFactor{ID: "t1", Secret: "JBSWY3DP", BackupCodes: "a,b,c", UserID: "u1",
				CreatedAt: entT1, UpdatedAt: entT2},
			fullKeys:  []string{"id", "secret", "backupCodes", "userId", "createdAt", "updatedAt"},
			empty:     &allsourceauth.TwoFactor{ID: "t1", Secret: "s", UserID: "u1", CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "secret", "userId", "createdAt", "updatedAt"},
		},
		{
			name: "APIKey",
			full: &allsourceauth.APIKey{
				ID: "k1", Name: "ci", Start: "abcd", Prefix: "ba_", KeyHash: "hash", UserID: "u1",
				RefillInterval: i64(60), RefillAmount: i64(10), LastRefillAt: entT1, Enabled: true,
				RateLimitEnabled: true, RateLimitTimeWindow: i64(1000), RateLimitMax: i64(5), RequestCount: 7,
				Remaining: i64(0), LastRequest: entT2, ExpiresAt: entT3, CreatedAt: entT1, UpdatedAt: entT2,
				Permissions: `{"a":["b"]}`, Metadata: `{"m":1}`,
			},
			fullKeys: []string{"id", "name", "start", "prefix", "key", "userId", "refillInterval", "refillAmount",
				"lastRefillAt", "enabled", "rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount",
				"remaining", "lastRequest", "expiresAt", "createdAt", "updatedAt", "permissions", "metadata"},
			empty: &allsourceauth.APIKey{ID: "k1", KeyHash: "h", UserID: "u1", CreatedAt: entT1, UpdatedAt: entT1},
			emptyKeys: []string{"id", "key", "userId", "enabled", "rateLimitEnabled", "requestCount",
				"createdAt", "updatedAt"},
		},
		{
			name: "Passkey",
			full: &allsourceauth.Passkey{ID: "p1", Name: "laptop", PublicKey: "pk", UserID: "u1", CredentialID: "cred",
				Counter: 1<<64 - 1, DeviceType: "multiDevice", BackedUp: true, Transports: "usb,nfc", CreatedAt: entT1},
			fullKeys: []string{"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType",
				"backedUp", "transports", "createdAt"},
			empty: &allsourceauth.Passkey{},
			emptyKeys: []string{"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType",
				"backedUp", "createdAt"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, sorted(tc.fullKeys...), jsonKeys(t, tc.full), "fully populated")
			assert.Equal(t, sorted(tc.emptyKeys...), jsonKeys(t, tc.empty), "optional fields empty")
		})
	}
}

// A pointer to zero (Remaining = 0 uses left) is a value, not absence.
func TestEntityAPIKeyZeroPointerKept(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(allsourceauth.APIKey{Remaining: allsourceauth.Ptr[int64](0)})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"remaining":0`)
}

func TestEntityTimesEncodeRFC3339UTC(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(allsourceauth.Verification{ExpiresAt: entT1})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"expiresAt":"2026-09-21T10:00:00.123456789Z"`)
}

func TestEntityRoundTrip(t *testing.T) {
	t.Parallel()
	entRoundTrip(t, &allsourceauth.User{ID: "u1", Name: "Zoë 日本", Email: "a@b.c", CreatedAt: entT1, UpdatedAt: entT2,
		BanExpires: entT3, Metadata: map[string]any{"n": 1.5, "s": "x", "l": []any{"a"}}})
	entRoundTrip(t, &allsourceauth.Passkey{ID: "p", Counter: 1<<64 - 1, CreatedAt: entT1})
	entRoundTrip(t, &allsourceauth.APIKey{ID: "k", RefillAmount: allsourceauth.Ptr[int64](-3), Remaining: allsourceauth.Ptr[int64](0),
		LastRequest: entT2, CreatedAt: entT1, UpdatedAt: entT1})
	entRoundTrip(t, &allsourceauth.Invitation{ID: "i", Status: allsourceauth.InvitationCanceled, ExpiresAt: entT3})
}

func TestInvitationStatusValues(t *testing.T) {
	t.Parallel()
	assert.Equal(t, allsourceauth.InvitationStatus("pending"), allsourceauth.InvitationPending)
	assert.Equal(t, allsourceauth.InvitationStatus("accepted"), allsourceauth.InvitationAccepted)
	assert.Equal(t, allsourceauth.InvitationStatus("rejected"), allsourceauth.InvitationRejected)
	assert.Equal(t, allsourceauth.InvitationStatus("canceled"), allsourceauth.InvitationCanceled)
}

func TestPtr(t *testing.T) {
	t.Parallel()
	s := allsourceauth.Ptr("Ann")
	require.NotNil(t, s)
	assert.Equal(t, "Ann", *s)

	v := "x"
	p := allsourceauth.Ptr(v)
	*p = "y"
	assert.Equal(t, "x", v, "Ptr returns a pointer to a copy")
	assert.NotSame(t, allsourceauth.Ptr(1), allsourceauth.Ptr(1))

	zero := allsourceauth.Ptr(time.Time{})
	require.NotNil(t, zero)
	assert.True(t, zero.IsZero())
	assert.False(t, *allsourceauth.Ptr(false))
	assert.Equal(t, uint64(1<<64-1), *allsourceauth.Ptr[uint64](1<<64 - 1))
}
