// Command quickstart is a guided tour of allsourceauth: an auth server's users, sessions,
// organizations, API keys and passkeys stored as events in Allsource — then the audit
// trail, time travel and undelete that event storage gives for free.
//
//	go run ./examples/quickstart
//
// With no configuration it starts an in-memory Allsource (package allsourcetest) inside
// the process. To run the tour against a real Allsource, set:
//
//	ALLSOURCE_CORE_URL    e.g. http://localhost:3900
//	ALLSOURCE_QUERY_URL   e.g. http://localhost:3902 (defaults to ALLSOURCE_CORE_URL)
//	ALLSOURCE_API_KEY     an ask_… key
//	ALLSOURCE_TENANT      optional tenant id
//
// Every run uses fresh addresses and slugs, so it can be repeated against one Allsource.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // Allsource unreachable, key rejected, or a step of the tour failed
	exitUsage  = 2 // incomplete or invalid configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := realMain(ctx, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// realMain connects, checks the connection and runs the tour; it returns the exit code.
// Problems go to stderr; the tour goes to stdout.
func realMain(ctx context.Context, stdout, stderr io.Writer, getenv func(string) string) int {
	store, where, closeFn, err := connect(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "quickstart: %v\n", err)
		return exitUsage
	}
	defer closeFn()

	fmt.Fprintln(stdout, "allsourceauth quickstart: an auth server's data as events in Allsource")
	fmt.Fprintf(stdout, "Allsource: %s\n", where)

	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = store.Ping(pingCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "quickstart: %s\n", pingProblem(err))
		return exitFailed
	}
	fmt.Fprintln(stdout, "✓ Ping: Core and the Query Service answer, the API key is accepted")

	start := time.Now()
	if err := run(ctx, stdout, store); err != nil {
		fmt.Fprintf(stderr, "quickstart: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "\nDone in %v.\n", time.Since(start).Round(time.Millisecond))
	return exitOK
}

// connect builds the Adapter: on a real Allsource when the environment names one, else
// on an in-process allsourcetest server (closed by the returned func). where describes
// the target for humans; it never holds the API key.
func connect(getenv func(string) string) (store *allsourceauth.Adapter, where string, closeFn func(), err error) {
	coreURL, queryURL := getenv("ALLSOURCE_CORE_URL"), getenv("ALLSOURCE_QUERY_URL")
	apiKey, tenant := getenv("ALLSOURCE_API_KEY"), getenv("ALLSOURCE_TENANT")
	opts := []allsourceauth.Option{allsourceauth.WithTimeout(5 * time.Second)}

	if coreURL == "" && queryURL == "" && apiKey == "" {
		srv := allsourcetest.NewServer()
		store, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey, opts...)
		if err != nil {
			srv.Close()
			return nil, "", nil, err
		}
		where := "in-process test server (allsourcetest); set ALLSOURCE_CORE_URL,\n" +
			"           ALLSOURCE_QUERY_URL and ALLSOURCE_API_KEY to use a real one"
		return store, where, srv.Close, nil
	}

	if coreURL == "" || apiKey == "" {
		return nil, "", nil, errors.New("to use a real Allsource set ALLSOURCE_CORE_URL and " +
			"ALLSOURCE_API_KEY (ALLSOURCE_QUERY_URL defaults to the Core URL); " +
			"unset all three to use the in-process test server")
	}
	if queryURL == "" {
		queryURL = coreURL
	}
	if tenant != "" {
		opts = append(opts, allsourceauth.WithTenant(tenant))
	}
	store, err = allsourceauth.New(coreURL, queryURL, apiKey, opts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("configuration: %w", err)
	}
	where = coreURL
	if queryURL != coreURL {
		where += ", queries via " + queryURL
	}
	if tenant != "" {
		where += ", tenant " + tenant
	}
	return store, where, func() {}, nil
}

// pingProblem turns a failed Ping into a message saying what to check.
func pingProblem(err error) string {
	var apiErr *allsourceauth.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
		return fmt.Sprintf("Allsource rejected the API key (HTTP %d); check ALLSOURCE_API_KEY "+
			"(and ALLSOURCE_TENANT)\n  %v", apiErr.StatusCode, err)
	}
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("Allsource answered HTTP %d; is it healthy, and do the URLs point at "+
			"Core and the Query Service?\n  %v", apiErr.StatusCode, err)
	}
	return fmt.Sprintf("cannot reach Allsource; check ALLSOURCE_CORE_URL and ALLSOURCE_QUERY_URL\n  %v", err)
}
