package allsourceauth_test

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// Connect to Allsource. Here it is the in-memory server from allsourcetest; in production
// pass your Core URL, Query Service URL and API key.
func ExampleNew() {
	srv := allsourcetest.NewServer()
	defer srv.Close()

	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey,
		allsourceauth.WithTimeout(5*time.Second),
		allsourceauth.WithRetries(2),
	)
	if err != nil {
		log.Fatal(err)
	}
	// New does no I/O; Ping checks both services and the key (a readiness probe).
	if err := store.Ping(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")

	// Bad arguments are rejected up front.
	_, err = allsourceauth.New("localhost:3900", srv.QueryURL, srv.APIKey)
	fmt.Println(errors.Is(err, allsourceauth.ErrInvalidInput))
	// Output:
	// ready
	// true
}

// Sign-up stores a user and a "credential" account holding the password hash; sign-in
// finds the user by email, checks the hash and opens a session.
func ExampleAdapter_CreateUser() {
	srv := allsourcetest.NewServer()
	defer srv.Close()
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// A stand-in for a real password hash: use bcrypt or argon2id in an application.
	hash := func(password string) string {
		sum := sha256.Sum256([]byte("per-user-salt:" + password))
		return hex.EncodeToString(sum[:])
	}

	// Sign-up.
	user, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: "ada@example.com", Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = store.CreateAccount(ctx, allsourceauth.CreateAccount{
		UserID: user.ID, ProviderID: "credential", AccountID: user.ID, Password: hash("correct horse"),
	})
	if err != nil {
		log.Fatal(err)
	}

	// The email is unique, case-insensitively.
	_, err = store.CreateUser(ctx, allsourceauth.CreateUser{Email: "ADA@example.com"})
	fmt.Println("second sign-up:", errors.Is(err, allsourceauth.ErrConflict))

	// Sign-in.
	found, err := store.GetUserByEmail(ctx, "Ada@Example.com")
	if err != nil {
		log.Fatal(err)
	}
	account, err := store.GetAccount(ctx, "credential", found.ID)
	if err != nil {
		log.Fatal(err)
	}
	ok := subtle.ConstantTimeCompare([]byte(account.Password), []byte(hash("correct horse"))) == 1
	fmt.Println("password ok:", ok)

	session, err := store.CreateSession(ctx, allsourceauth.CreateSession{
		UserID: found.ID, ExpiresAt: time.Now().Add(7 * 24 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Later requests carry the token.
	s, err := store.GetSession(ctx, session.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session of", s.UserID == user.ID, "with a", len(s.Token), "character token")
	// Output:
	// second sign-up: true
	// password ok: true
	// session of true with a 51 character token
}

// Every change is an event: History returns an entity's audit trail, oldest first,
// deletion included.
func ExampleAdapter_History() {
	srv := allsourcetest.NewServer()
	defer srv.Close()
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	user, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: "ada@example.com", Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.UpdateUser(ctx, user.ID, allsourceauth.UpdateUser{EmailVerified: allsourceauth.Ptr(true)}); err != nil {
		log.Fatal(err)
	}
	if err := store.DeleteUser(ctx, user.ID); err != nil {
		log.Fatal(err)
	}

	events, err := store.History(ctx, allsourceauth.KindUser, user.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range events {
		fmt.Printf("v%d %-18s deleted=%v\n", ev.Version, ev.Type, ev.Deleted)
	}
	// Output:
	// v1 auth.user.created  deleted=false
	// v2 auth.user.updated  deleted=false
	// v3 auth.user.deleted  deleted=true
}

// AsOf reads the store as it was at a past instant; the view is read-only.
func ExampleAdapter_AsOf() {
	srv := allsourcetest.NewServer()
	defer srv.Close()
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	user, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: "ada@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	// The instant of the sign-up, as Allsource recorded it.
	events, err := store.History(ctx, allsourceauth.KindUser, user.ID)
	if err != nil {
		log.Fatal(err)
	}
	signedUp := events[0].Timestamp

	if _, err := store.UpdateUser(ctx, user.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("ada@lovelace.example")}); err != nil {
		log.Fatal(err)
	}
	if err := store.DeleteUser(ctx, user.ID); err != nil {
		log.Fatal(err)
	}

	then := store.AsOf(signedUp)
	u, err := then.GetUserByEmail(ctx, "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("then:", u.Email)
	_, err = store.GetUserByID(ctx, user.ID)
	fmt.Println("now deleted:", errors.Is(err, allsourceauth.ErrNotFound))

	_, err = then.UpdateUser(ctx, user.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Ada")})
	fmt.Println("write on the view:", errors.Is(err, allsourceauth.ErrReadOnly))
	// Output:
	// then: ada@example.com
	// now deleted: true
	// write on the view: true
}

// Restore undoes a deletion: the entity comes back in its last live state and its
// unique values are claimed again.
func ExampleAdapter_Restore() {
	srv := allsourcetest.NewServer()
	defer srv.Close()
	store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	user, err := store.CreateUser(ctx, allsourceauth.CreateUser{Email: "ada@example.com", Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.DeleteUser(ctx, user.ID); err != nil {
		log.Fatal(err)
	}
	if err := store.Restore(ctx, allsourceauth.KindUser, user.ID); err != nil {
		log.Fatal(err)
	}
	u, err := store.GetUserByEmail(ctx, "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name, "is back")

	err = store.Restore(ctx, allsourceauth.KindUser, "no-such-user")
	fmt.Println("never existed:", errors.Is(err, allsourceauth.ErrNotFound))
	// Output:
	// Ada is back
	// never existed: true
}
