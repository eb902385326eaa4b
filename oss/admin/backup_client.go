package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/objectsharing/oss/oss"
)

// Backup streams the backup of heap (oss.Heap.Backup; of a Fresh View if
// fresh) from the first node that takes the request into w, checking it
// as it passes (oss.VerifyBackup). An error means that w holds no whole
// backup: the node's refusal, or a stream cut or damaged, which names its
// offset. Only ctx bounds it, not ClientOptions.Timeout: a large heap
// takes as long as its bytes need.
func (c *Client) Backup(ctx context.Context, heap string, w io.Writer, fresh bool) (oss.BackupInfo, error) {
	if err := named(heap); err != nil {
		return oss.BackupInfo{}, err
	}
	resp, base, err := c.streamTo(ctx, http.MethodGet, heapPath(heap)+"/backup"+freshQuery(fresh), nil)
	if err != nil {
		return oss.BackupInfo{}, err
	}
	defer resp.Body.Close()
	info, err := oss.VerifyBackup(io.TeeReader(resp.Body, w))
	if err != nil {
		return info, fmt.Errorf("the backup of heap %q from the node at %s: %w", heap, base, err)
	}
	return info, nil
}

// Restore sends the backup r holds to the first node that answers, which
// creates heap from it (oss.Node.RestoreHeap), with replicas voters (0:
// the node's default), and returns what it restored. The node checks the
// backup as it reads it and keeps nothing of one that fails: its error
// matches oss.ErrBadBackup then, oss.ErrTooLarge for an object too large
// for the node's commits, oss.ErrHeapExists for a heap that exists. A
// restore that failed and could not drop its heap says so in its
// message, with the heap's group and the drop of that group alone
// (DropHeapOfGroup); TookNothing is false of it. The backup is sent
// once: a node that took the request is not given it again. It goes to
// the next node of the list, as any request does, when the node took
// nothing of it (none answers there, or it answered that it is starting,
// damaged, closing or busy, with nothing left behind) and r can be sent
// again: nothing of it was read, or r is an io.Seeker (an *os.File), put
// back. A node that read it and gave no answer, or whose answer was cut,
// may have restored the heap: the error matches oss.ErrCommitUnknown.
// Only ctx bounds it, not ClientOptions.Timeout.
func (c *Client) Restore(ctx context.Context, heap string, r io.Reader, replicas int) (oss.RestoreInfo, error) {
	var info oss.RestoreInfo
	if err := named(heap); err != nil {
		return info, err
	}
	path := heapPath(heap) + "/restore"
	if replicas != 0 {
		path += "?replicas=" + strconv.Itoa(replicas)
	}
	resp, base, err := c.streamTo(ctx, http.MethodPost, path, r)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusConflict:
		return info, &heapExistsError{msg: se.Message}
	case errors.As(err, &se) && se.Code == http.StatusBadRequest && strings.Contains(se.Message, oss.ErrBadBackup.Error()):
		return info, &badBackupError{se}
	case errors.As(err, &se) && se.Code == http.StatusBadRequest && strings.Contains(se.Message, oss.ErrTooLarge.Error()):
		return info, &tooLargeError{se}
	case err != nil:
		return info, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, smallBody))
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil {
		// The 200 says the restore was carried out; what it answered
		// was lost, and the heap may have been dropped since: an
		// unknown outcome, as Do says of any write's cut 200.
		return info, fmt.Errorf("the node at %s restored heap %q, and its answer was lost: its outcome is unknown; see ossd heaps: %w (%w)", base, heap, oss.ErrCommitUnknown, err)
	}
	return info, nil
}

// streamTo sends a streaming request (a body to read as it goes, unless
// nil) to the first node that takes it, and returns its 200 answer, whose
// body the caller reads and closes. A request with a body goes on to the
// next node only when the node took nothing of it (tookNothing) and the
// body can be sent again: nothing of it was read, or it is an io.Seeker
// put back where it began. Its error says what each node tried answered.
func (c *Client) streamTo(ctx context.Context, method, path string, body io.Reader) (*http.Response, string, error) {
	var skipped []error
	start := int64(-1)
	if s, ok := body.(io.Seeker); ok {
		if at, err := s.Seek(0, io.SeekCurrent); err == nil {
			start = at
		}
	}
	for i, base := range c.bases {
		var sent *resendBody
		var rb io.Reader
		if body != nil {
			sent = &resendBody{r: body, closed: make(chan struct{})}
			rb = sent
		}
		resp, err := c.streamOnce(ctx, base, method, path, rb)
		if err == nil {
			return resp, base, nil
		}
		if !tookNothing(err) || ctx.Err() != nil {
			return nil, base, err
		}
		if sent != nil && i < len(c.bases)-1 {
			if rerr := sent.rewind(ctx, body, start, err); rerr != nil {
				// Not sent on: what every node tried said, this one's
				// with why.
				skipped = append(skipped, rerr)
				break
			}
		}
		skipped = append(skipped, err)
	}
	if len(skipped) == 1 {
		return nil, "", skipped[0]
	}
	return nil, "", &skippedError{errs: skipped}
}

// resendBody is a streaming request's body as one node is sent it: it
// counts what the transport read, and tells when the transport let go
// of it (it closes a request's body when it is done with it, possibly
// after the response came back).
type resendBody struct {
	r      io.Reader
	read   atomic.Int64
	once   sync.Once
	closed chan struct{}
}

func (b *resendBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *resendBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// rewind readies body, of which a node took nothing (its error
// refused), to be sent to the next node: once the transport let go of
// it, nothing of it was read, or it is put back at start. Otherwise
// refused is returned, saying why the request was not sent on.
func (b *resendBody) rewind(ctx context.Context, body io.Reader, start int64, refused error) error {
	select {
	case <-b.closed:
	case <-ctx.Done():
		return refused
	}
	if b.read.Load() == 0 {
		return nil
	}
	if s, ok := body.(io.Seeker); ok && start >= 0 {
		if _, err := s.Seek(start, io.SeekStart); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w (the request was not sent to the next node: %d bytes of its body had been read, which a stream cannot give again)", refused, b.read.Load())
}

func (c *Client) streamOnce(ctx context.Context, base, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", backupType)
		req.Header.Set(RequestHeader, "1")
	}
	req, sent := traceSent(req)
	resp, err := c.stream.Do(req)
	if err != nil {
		var refused *tls.CertificateVerificationError
		switch {
		case refusedByNode(err):
			return nil, &certRefusedError{err: err, msg: fmt.Sprintf("the node at %s refused this client's certificate (%s), so nothing was done: %v (is it of the cluster's CA, and not expired?)", base, c.own, err)}
		case errors.As(err, &refused):
			return nil, nodeCertRefused(base, refused)
		case sent.Load() && body != nil:
			// Not a failure: the node may have restored the heap. It
			// matches oss.ErrCommitUnknown, as sendTo's write without
			// an answer does, and the transport's error (a context's).
			return nil, fmt.Errorf("the node at %s gave no answer to the restore of %s: it may have restored the heap, or dropped it again: its outcome is unknown; see ossd heaps: %w (%w)", base, path, oss.ErrCommitUnknown, err)
		}
		return nil, &noNodeError{base: base, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, smallBody))
		return nil, statusError(resp, b, err, method, path, base)
	}
	return resp, nil
}

// badBackupError is a node's refusal of a restore's backup, which
// matches oss.ErrBadBackup.
type badBackupError struct{ *StatusError }

func (e *badBackupError) Is(target error) bool {
	return target == oss.ErrBadBackup || e.StatusError.Is(target)
}

func (e *badBackupError) Unwrap() error { return e.StatusError }

// tooLargeError is a node's refusal of a restore whose backup holds an
// object or root too large for its commits, which matches
// oss.ErrTooLarge (the backup is sound; a node with a larger
// MaxCommitBytes restores it).
type tooLargeError struct{ *StatusError }

func (e *tooLargeError) Is(target error) bool {
	return target == oss.ErrTooLarge || e.StatusError.Is(target)
}

func (e *tooLargeError) Unwrap() error { return e.StatusError }
