package web

import (
	"bytes"
	"net/http"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// A form that creates something (a key, a rotation, a webhook endpoint,
// an invite) answers with a 303 to a page that shows it (post/redirect/
// get), so that reloading the page or going Back never creates it again.
// A secret the page shows once (a key, a signing secret, an invite link)
// waits for that page here, in memory: under a random id that is the only
// thing in the URL, bound to the session that created it, for
// onceLifetime at most, and deleted when it is shown. The second view of
// the page, a reload included, says that the secret was shown once.
//
// The views live in this process only: behind a load balancer, the
// redirected request must reach the instance that answered the form (see
// docs/dashboard.md), or the page says the secret cannot be shown.

// onceLifetime is how long a secret waits for its page.
const onceLifetime = 5 * time.Minute

// maxOnceViews bounds the secrets waiting at once; beyond it the one
// expiring first is dropped.
const maxOnceViews = 10000

// onceViews holds the secrets waiting for their one view. It is safe for
// concurrent use.
type onceViews struct {
	mu    sync.Mutex
	now   func() time.Time
	views map[string]onceView
}

type onceView struct {
	session []byte
	// thing is the id of what the view shows (the key, the endpoint,
	// the invite), which its page's path names.
	thing   string
	expires time.Time
	data    any
}

func newOnceViews(now func() time.Time) *onceViews {
	return &onceViews{now: now, views: make(map[string]onceView)}
}

// put keeps data, about thing (an id), for one view by the session whose
// digest is given, and returns the view's id.
func (o *onceViews) put(session []byte, thing string, data any) string {
	id := pihu.NewID("")
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	var first string
	for k, v := range o.views {
		if !now.Before(v.expires) {
			delete(o.views, k)
		} else if first == "" || v.expires.Before(o.views[first].expires) {
			first = k
		}
	}
	if len(o.views) >= maxOnceViews {
		delete(o.views, first)
	}
	o.views[id] = onceView{session: bytes.Clone(session), thing: thing, expires: now.Add(onceLifetime), data: data}
	return id
}

// take returns the data of view id and deletes it, if the session whose
// digest is given put it there, about thing, and it has not expired.
// Another session's view stays, unseen.
func (o *onceViews) take(session []byte, thing, id string) (any, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.views[id]
	if !ok || !bytes.Equal(v.session, session) || v.thing != thing {
		return nil, false
	}
	delete(o.views, id)
	if !o.now().Before(v.expires) {
		return nil, false
	}
	return v.data, true
}

// shownOnceData is the page that answers a second view: what was shown,
// and where the thing it belonged to is.
type shownOnceData struct {
	What      string
	Message   string
	Link      string
	LinkLabel string
	Back      string
	BackLabel string
}

// shownOnce answers a view already taken (or expired, or another
// session's): 410, saying that the secret was shown once.
func (h *Handler) shownOnce(w http.ResponseWriter, r *http.Request, s *session, nav string, d shownOnceData) {
	h.render(w, r, http.StatusGone, "shown_once", view{Title: d.What + " shown once", Me: s.user, Account: s.account, Nav: nav, Data: d})
}
