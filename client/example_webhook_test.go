package client_test

import (
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/pihu-ai/pihu/client"
)

// This example receives pihu's webhooks: it checks each delivery's
// signature before trusting it, and answers 2xx quickly.
func ExampleVerifyWebhook() {
	secret := os.Getenv("PIHU_WEBHOOK_SECRET") // the whsec_… shown when the endpoint was created
	http.HandleFunc("POST /pihu-events", func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		event, err := client.VerifyWebhook(payload, r.Header.Get("Pihu-Signature"), secret, 5*time.Minute)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		// The same event may arrive twice (a retry after a lost answer):
		// event.ID, also in the Pihu-Event-Id header, tells.
		switch event.Type {
		case "api_key.leaked", "api_key.revoked":
			log.Printf("key %s (%s) no longer works", event.Data.ID, event.Data.Name)
		case "api_key.expiring_soon":
			log.Printf("key %s expires at %v", event.Data.ID, event.Data.Expires)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:4242", nil))
}
