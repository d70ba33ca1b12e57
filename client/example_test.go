package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/pihu-ai/pihu/client"
)

// This example creates a key that can schedule interviews and read
// candidates, then schedules an interview with it.
func Example() {
	ctx := context.Background()
	c, err := client.New(client.Config{
		BaseURL: "http://127.0.0.1:8080",
		APIKey:  os.Getenv("PIHU_API_KEY"),
	})
	if err != nil {
		log.Fatal(err)
	}

	key, err := c.CreateKey(ctx, client.KeyParams{
		Name:        "Scheduler",
		Permissions: []string{"interview:write", "candidate:write"},
		Expiration:  "30d",
	})
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code == "insufficient_permissions" {
		log.Fatalf("this key may not give %s", apiErr.Required)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", key.ID, "expiring", key.Expires) // key.Key is the secret: store it now

	scheduler, err := client.New(client.Config{BaseURL: "http://127.0.0.1:8080", APIKey: key.Key})
	if err != nil {
		log.Fatal(err)
	}
	cand, err := scheduler.CreateCandidate(ctx, client.CandidateParams{Name: "Ada Lovelace", Email: "ada@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	iv, err := scheduler.CreateInterview(ctx, client.InterviewParams{CandidateID: cand.ID, Position: "Backend engineer"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(iv.ID, iv.Status)
}

// This example is the backend of a browser app: it mints a short-lived
// token that can only read candidates, for the page to call the API with.
func ExampleClient_CreateToken() {
	ctx := context.Background()
	c, err := client.New(client.Config{BaseURL: "http://127.0.0.1:8080", APIKey: os.Getenv("PIHU_API_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, client.TokenParams{Permissions: []string{"candidate:read"}, ExpiresIn: "15m"})
	if err != nil {
		log.Fatal(err)
	}
	// Hand tok.AccessToken to the browser, which sends it as
	// "Authorization: Bearer …" until tok.Expires.
	fmt.Println(tok.TokenType, tok.ExpiresIn, tok.Permissions)
}

// This example is a service that accepts Pihu access tokens minted for it
// ("billing-service") and checks them offline, with the server's public
// keys only.
func ExampleTokenVerifier() {
	v, err := client.NewTokenVerifier(client.TokenVerifierConfig{
		Issuer:   "https://auth.example.com",
		Audience: "billing-service",
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims, err := v.Verify(r.Context(), token)
		switch {
		case errors.Is(err, client.ErrInvalidToken), errors.Is(err, client.ErrExpiredToken):
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		case err != nil: // the keys could not be fetched
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		case !claims.Has("candidate:read") || claims.Environment != "live":
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "hello, key", claims.KeyID)
	}
	http.Handle("/invoices", http.HandlerFunc(handler))
}

// This example protects a service behind pihu: every request needs an API
// key or access token with candidate:read, verified by pihu (keys, cached
// for 5 seconds) or offline (tokens), and the handler reads who called.
func ExampleMiddleware() {
	// A key with the api_key:verify permission, for the service itself.
	pihu, err := client.New(client.Config{BaseURL: "http://127.0.0.1:8080", APIKey: os.Getenv("PIHU_VERIFY_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := client.NewTokenVerifier(client.TokenVerifierConfig{Issuer: "http://127.0.0.1:8080"})
	if err != nil {
		log.Fatal(err)
	}
	requireKey := client.Middleware(client.MiddlewareConfig{
		Client:      pihu,
		Tokens:      tokens,
		Permissions: []string{"candidate:read"},
	})

	mux := http.NewServeMux()
	mux.Handle("GET /reports", requireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := client.IdentityFromContext(r.Context())
		if id.Environment != "live" {
			http.Error(w, "live keys only", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "reports of account %s\n", id.AccountID)
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", mux))
}
