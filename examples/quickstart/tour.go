package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seed-a452aa33/allsourceauth"
)

// lineWidth is the widest line the tour prints.
const lineWidth = 100

// run is the tour: the life of one user, from sign-up to account deletion, through the
// Store; then the user's audit trail, time travel and an undelete. It writes to w and
// returns the first step that did not behave as expected.
func run(ctx context.Context, w io.Writer, store *allsourceauth.Adapter) error {
	p := &printer{w: w}
	// A fresh tag per run keeps addresses and slugs unique, so the tour can be repeated
	// against one Allsource (unique values stay claimed by the users left behind).
	tag := strings.ToLower(rand.Text()[:4])
	email := "ada." + tag + "@example.com"
	newEmail := "lovelace." + tag + "@example.com"
	charlesEmail := "charles." + tag + "@example.com"
	const password = "correct horse battery staple"

	// ---- Sign-up: a user, and a "credential" account holding the password hash.
	p.section("Sign-up")
	ada, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: email, Name: "Ada"})
	if err != nil {
		return fmt.Errorf("sign-up: %w", err)
	}
	p.ok("CreateUser", "%s → user %s", email, short(ada.ID))
	_, err = store.CreateAccount(ctx, allsourceauth.CreateAccount{
		UserID: ada.ID, ProviderID: "credential", AccountID: ada.ID, Password: hashPassword(password),
	})
	if err != nil {
		return fmt.Errorf("sign-up: %w", err)
	}
	p.ok("CreateAccount", "credential account; the password is stored as a salted hash")
	p.note("(SHA-256 is a stand-in here: hash passwords with bcrypt or argon2id)")

	// ---- Sign-in: find the user, check the hash, open a session.
	p.section("Sign-in")
	typed := strings.ToUpper(email)
	user, err := store.GetUserByEmail(ctx, typed)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	p.ok("GetUserByEmail", "%s → user %s (case-insensitive)", typed, short(user.ID))
	account, err := store.GetAccount(ctx, "credential", user.ID)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if !checkPassword(account.Password, password) {
		return errors.New("sign-in: the stored password hash does not match")
	}
	p.ok("GetAccount", "password hash matches")
	session, err := store.CreateSession(ctx, allsourceauth.CreateSession{
		UserID: user.ID, ExpiresAt: time.Now().Add(7 * 24 * time.Hour),
		IPAddress: "203.0.113.7", UserAgent: "quickstart",
	})
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	p.ok("CreateSession", "%s valid for 7 days", tokenPrefix(session.Token))
	s, err := store.GetSession(ctx, session.Token)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	p.ok("GetSession", "the cookie's token → user %s", short(s.UserID))

	// ---- Email verification: a single-use link.
	p.section("Email verification")
	identifier, value := "email-verification:"+email, randomString(24)
	_, err = store.CreateVerification(ctx, allsourceauth.CreateVerification{
		Identifier: identifier, Value: value, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		return fmt.Errorf("email verification: %w", err)
	}
	p.ok("CreateVerification", "a link for %s, valid for 1 hour", email)
	if _, err := store.ConsumeVerification(ctx, identifier, value); err != nil {
		return fmt.Errorf("email verification: %w", err)
	}
	if _, err := store.UpdateUser(ctx, ada.ID, allsourceauth.UpdateUser{EmailVerified: allsourceauth.Ptr(true)}); err != nil {
		return fmt.Errorf("email verification: %w", err)
	}
	p.ok("ConsumeVerification", "link followed → UpdateUser: email verified")
	_, err = store.ConsumeVerification(ctx, identifier, value)
	if !errors.Is(err, allsourceauth.ErrNotFound) {
		return fmt.Errorf("email verification: a replayed link was not refused (got %v)", err)
	}
	p.ok("ConsumeVerification", "the same link again → refused (not found): single use")

	// ---- Profile change: a new email address and a full name.
	p.section("Profile change")
	ada, err = store.UpdateUser(ctx, ada.ID, allsourceauth.UpdateUser{
		Email: allsourceauth.Ptr(newEmail), Name: allsourceauth.Ptr("Ada Lovelace"),
	})
	if err != nil {
		return fmt.Errorf("profile change: %w", err)
	}
	p.ok("UpdateUser", "email → %s, name → %s", ada.Email, ada.Name)
	if _, err := store.GetUserByEmail(ctx, email); !errors.Is(err, allsourceauth.ErrNotFound) {
		return fmt.Errorf("profile change: the old address still resolves (got %v)", err)
	}
	user, err = store.GetUserByEmail(ctx, newEmail)
	if err != nil {
		return fmt.Errorf("profile change: %w", err)
	}
	p.ok("GetUserByEmail", "old address → not found; new address → %s", user.Name)

	// ---- An organization, and an invitation accepted by a new user.
	p.section("Organization")
	org, err := store.CreateOrganization(ctx, allsourceauth.CreateOrganization{
		Name: "Analytical Engines", Slug: "analytical-engines-" + tag,
	})
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("CreateOrganization", "%q, slug %s", org.Name, org.Slug)
	if _, err := store.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: org.ID, UserID: ada.ID, Role: "owner"}); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("CreateMember", "Ada Lovelace is its owner")
	inv, err := store.CreateInvitation(ctx, allsourceauth.CreateInvitation{
		OrganizationID: org.ID, Email: charlesEmail, Role: "member", InviterID: ada.ID,
		ExpiresAt: time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("CreateInvitation", "%s invited as a member (%s)", charlesEmail, inv.Status)
	charles, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: charlesEmail, Name: "Charles Babbage"})
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("CreateUser", "Charles Babbage signs up with the invited address")
	pending, err := store.GetPendingInvitation(ctx, org.ID, charlesEmail)
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	if _, err := store.UpdateInvitationStatus(ctx, pending.ID, allsourceauth.InvitationAccepted); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	if _, err := store.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: org.ID, UserID: charles.ID, Role: "member"}); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("UpdateInvitationStatus", "accepted → CreateMember: Charles joins")
	members, err := store.CountOrganizationMembers(ctx, org.ID)
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	owners, err := store.CountOrganizationOwners(ctx, org.ID)
	if err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	p.ok("CountOrganization…", "%d members, %d owner", members, owners)

	// ---- An API key: the caller sees the key once; the store keeps only its hash.
	p.section("API key")
	key := "ak_" + randomString(32)
	_, err = store.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{
		UserID: ada.ID, Name: "ci deploy", Prefix: "ak_", Start: key[:7], KeyHash: sha256Hex(key), Enabled: true,
	})
	if err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	p.ok("CreateAPIKey", "%s… issued to Ada; only its SHA-256 is stored", key[:7])
	k, err := store.GetAPIKeyByHash(ctx, sha256Hex(key))
	if err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	p.ok("GetAPIKeyByHash", "a request's key → %q of user %s", k.Name, short(k.UserID))

	// ---- A passkey, and its signature counter moving on a passkey sign-in.
	p.section("Passkey")
	pk, err := store.CreatePasskey(ctx, allsourceauth.CreatePasskey{
		UserID: ada.ID, Name: "MacBook Touch ID", CredentialID: randomString(16), PublicKey: randomString(64),
		DeviceType: "multiDevice", BackedUp: true, Transports: "internal",
	})
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	p.ok("CreatePasskey", "%q registered", pk.Name)
	pk, err = store.UpdatePasskeyCounter(ctx, pk.ID, pk.Counter+1)
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	p.ok("UpdatePasskeyCounter", "signature counter is %d after a passkey sign-in", pk.Counter)

	// ---- Sign-out, then the user deletes the account.
	p.section("Sign-out and account deletion")
	if err := store.DeleteSession(ctx, session.Token); err != nil {
		return fmt.Errorf("sign-out: %w", err)
	}
	if _, err := store.GetSession(ctx, session.Token); !errors.Is(err, allsourceauth.ErrNotFound) {
		return fmt.Errorf("sign-out: the session still resolves (got %v)", err)
	}
	p.ok("DeleteSession", "signed out: the token no longer resolves")
	if err := store.DeleteUser(ctx, ada.ID); err != nil {
		return fmt.Errorf("account deletion: %w", err)
	}
	if _, err := store.GetUserByEmail(ctx, newEmail); !errors.Is(err, allsourceauth.ErrNotFound) {
		return fmt.Errorf("account deletion: the user still resolves (got %v)", err)
	}
	p.ok("DeleteUser", "account deleted: %s no longer resolves", newEmail)

	// ---- The audit trail: every change to the user, as stored.
	events, err := store.History(ctx, allsourceauth.KindUser, ada.ID)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	p.heading("Audit trail: History(KindUser, %s)", short(ada.ID))
	if err := printHistory(w, events); err != nil {
		return fmt.Errorf("history: %w", err)
	}

	// ---- Time travel: read the store as it was just before two of those events. The
	// instants come from the events themselves (Allsource's clock, not ours).
	p.heading("Time travel: AsOf(t) is a read-only view of the store at t")
	changed := slices.IndexFunc(events, func(ev allsourceauth.Event) bool {
		return ev.Type == "auth.user.updated" && bytes.Contains(ev.Payload, []byte(newEmail))
	})
	deleted := slices.IndexFunc(events, func(ev allsourceauth.Event) bool { return ev.Deleted })
	if changed < 1 || deleted < 1 {
		return errors.New("time travel: the history lacks the email change or the deletion")
	}
	at := func(ev allsourceauth.Event) string {
		return "AsOf(" + ev.Timestamp.UTC().Format("15:04:05.000000") + ")"
	}
	before := events[changed-1]
	then, err := store.AsOf(before.Timestamp).GetUserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("time travel: %w", err)
	}
	p.ok(at(before), "before the email change: GetUserByEmail(%s) → %s", email, then.Name)
	before = events[deleted-1]
	view := store.AsOf(before.Timestamp)
	then, err = view.GetUserByID(ctx, ada.ID)
	if err != nil {
		return fmt.Errorf("time travel: %w", err)
	}
	p.ok(at(before), "before the deletion: GetUserByID → %s, still there", then.Name)
	_, err = view.UpdateUser(ctx, ada.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Ada")})
	if !errors.Is(err, allsourceauth.ErrReadOnly) {
		return fmt.Errorf("time travel: a write on a view was not refused (got %v)", err)
	}
	p.ok(at(before), "UpdateUser → refused: a view of the past is read-only")

	// ---- Restore: undo the deletion.
	p.heading("Restore: undo the deletion")
	if err := store.Restore(ctx, allsourceauth.KindUser, ada.ID); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	back, err := store.GetUserByEmail(ctx, newEmail)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	p.ok("Restore(KindUser)", "%s is back, email verified: %v", back.Name, back.EmailVerified)
	p.ok("GetUserByEmail", "%s → %s again", newEmail, back.Name)
	events, err = store.History(ctx, allsourceauth.KindUser, ada.ID)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	last := events[len(events)-1]
	p.ok("History", "now %d events, the last one v%d %s", len(events), last.Version, last.Type)
	return nil
}

// ---------------------------------------------------------------------------------------
// Output

// printer writes the tour's lines: numbered sections, headings and checked steps.
type printer struct {
	w        io.Writer
	sectionN int
}

func (p *printer) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

func (p *printer) section(title string) {
	p.sectionN++
	p.printf("\n%d. %s\n", p.sectionN, title)
}

func (p *printer) heading(format string, args ...any) {
	p.printf("\n"+format+"\n", args...)
}

// ok prints a step that did what it should: the call, then what happened.
func (p *printer) ok(call, format string, args ...any) {
	p.printf("  ✓ %-22s %s\n", call, fmt.Sprintf(format, args...))
}

// note prints a remark under the previous step.
func (p *printer) note(text string) { p.printf("    %-22s %s\n", "", text) }

// History table columns.
const (
	verWidth   = 4
	timeWidth  = 15 // 15:04:05.000000
	eventWidth = 19
	changeCol  = 2 + verWidth + 1 + timeWidth + 1 + eventWidth + 1
)

// printHistory prints events as an aligned table with what each event changed.
func printHistory(w io.Writer, events []allsourceauth.Event) error {
	fmt.Fprintf(w, "  %-*s %-*s %-*s %s\n", verWidth, "VER", timeWidth, "TIME (UTC)", eventWidth, "EVENT", "CHANGE")
	var prev map[string]any
	for _, ev := range events {
		var cur map[string]any
		if err := json.Unmarshal(ev.Payload, &cur); err != nil {
			return fmt.Errorf("event v%d: %w", ev.Version, err)
		}
		lines := describe(ev, prev, cur)
		fmt.Fprintf(w, "  %-*d %-*s %-*s %s\n", verWidth, ev.Version,
			timeWidth, ev.Timestamp.UTC().Format("15:04:05.000000"), eventWidth, ev.Type, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", changeCol), l)
		}
		prev = cur
	}
	return nil
}

// describe says in a few words what an event changed, one or more lines that fit the
// table's CHANGE column.
func describe(ev allsourceauth.Event, prev, cur map[string]any) []string {
	switch {
	case ev.Deleted:
		return []string{"deleted (the tombstone keeps the last state)"}
	case strings.HasSuffix(ev.Type, ".restored"):
		return []string{"restored: the last live state, values claimed again"}
	case strings.HasSuffix(ev.Type, ".fenced"):
		return []string{"fenced: an abandoned write was cancelled"}
	}
	var items []string
	for _, k := range fieldOrder(prev, cur) {
		old, had := prev[k]
		now, has := cur[k]
		switch {
		case prev == nil && has && !isZero(now):
			items = append(items, k+": "+value(now))
		case prev != nil && (had != has || !equalJSON(old, now)):
			items = append(items, k+": "+value(old)+" → "+value(now))
		}
	}
	if len(items) == 0 {
		return []string{"no field changed"}
	}
	width := lineWidth - changeCol
	if joined := strings.Join(items, ", "); utf8.RuneCountInString(joined) <= width {
		return []string{joined}
	}
	for i := range items {
		items[i] = clip(items[i], width)
	}
	return items
}

// skipped fields change on every event or are the engine's markers.
var skipped = map[string]bool{"id": true, "createdAt": true, "updatedAt": true, "_deleted": true, "_fenced": true}

// preferred puts a user's most telling fields first.
var preferred = []string{"email", "name", "username", "displayUsername", "emailVerified", "image", "role", "banned", "banReason", "banExpires", "twoFactorEnabled", "metadata"}

func fieldOrder(a, b map[string]any) []string {
	var rest []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !skipped[k] && !slices.Contains(preferred, k) && !slices.Contains(rest, k) {
				rest = append(rest, k)
			}
		}
	}
	slices.Sort(rest)
	var out []string
	for _, k := range preferred {
		_, inA := a[k]
		_, inB := b[k]
		if inA || inB {
			out = append(out, k)
		}
	}
	return append(out, rest...)
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case float64:
		return v == 0
	}
	return false
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// value formats one payload value, short.
func value(v any) string {
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		if v == "" {
			return `""`
		}
		return clip(v, 30)
	default:
		b, _ := json.Marshal(v)
		return clip(string(b), 30)
	}
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// short abbreviates an id for display.
func short(id string) string { return clip(id, 9) }

// tokenPrefix shows enough of a session token to tell sessions apart, never the token.
func tokenPrefix(token string) string {
	if len(token) <= 12 {
		return "session_…"
	}
	return token[:12] + "…"
}

// ---------------------------------------------------------------------------------------
// Secrets (stand-ins: an application uses its auth framework's own).

func randomString(nBytes int) string {
	b := make([]byte, nBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hashPassword is a salted SHA-256, standing in for bcrypt or argon2id, which an
// application must use instead: a fast hash like this one is easy to brute-force.
func hashPassword(password string) string {
	salt := randomString(16)
	return "sha256$" + salt + "$" + sha256Hex(salt+password)
}

func checkPassword(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(parts[2]), []byte(sha256Hex(parts[1]+password))) == 1
}
