package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3Server is an S3 REST server (github.com/johannesboyne/gofakes3, in-memory
// backend) on a free loopback port, for the S3 on-failure destination and
// `streamctl redrive --bucket`.
//
// Why gofakes3 and why in this process: it speaks the S3 REST protocol that
// aws-sdk-go-v2's S3 client uses (path-style addressing, aws-chunked uploads,
// ListObjectsV2, DeleteObject, object tagging), it is a pinned Go module
// (go.mod) so nothing is installed beside the Go toolchain, and serving it
// from the test's own process starts in microseconds instead of a Node
// process (npm s3rver would be the out-of-process alternative). Clients reach
// it over real HTTP exactly as they reach S3.
type S3Server struct {
	Endpoint string // http://127.0.0.1:PORT (clients must use path-style addressing)
	Port     int

	srv     *http.Server
	backend *s3mem.Backend
	done    chan struct{}
}

// StartS3 serves S3 on loopback with the given buckets created.
func StartS3(buckets ...string) (*S3Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: s3: %w", err)
	}
	be := s3mem.New()
	faker := gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithAutoBucket(false))
	s := &S3Server{Port: ln.Addr().(*net.TCPAddr).Port, backend: be, done: make(chan struct{}),
		srv: &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}}
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("emulator: s3: create bucket %s: %w", b, err)
		}
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("emulator: s3:", err)
		}
	}()
	return s, nil
}

// CreateBucket adds a bucket.
func (s *S3Server) CreateBucket(name string) error { return s.backend.CreateBucket(name) }

// Stop closes the server.
func (s *S3Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}
