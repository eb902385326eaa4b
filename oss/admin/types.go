package admin

import (
	"encoding/json"

	"github.com/google/uuid"
)

// Object is an object as the API shows it.
type Object struct {
	ID      uuid.UUID `json:"id"`
	Version uint64    `json:"version"`
	Value   any       `json:"value"`
	// Index is the applied index the object was read at.
	Index uint64 `json:"index"`
	// ValueJSON is the value's JSON text as the node sent it, in an
	// Object a Client decoded (empty otherwise). Value holds its numbers
	// as float64, as encoding/json decodes them into an interface, which
	// rounds an integer beyond 2^53 (9007199254740993 reads as
	// 9007199254740992); ValueJSON holds every digit the heap stores.
	ValueJSON json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an object as the admin interface sends it, its
// value into Value and its text into ValueJSON.
func (o *Object) UnmarshalJSON(b []byte) error {
	type plain Object // without this method
	var w struct {
		plain
		Value json.RawMessage `json:"value"` // shadows plain's
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*o = Object(w.plain)
	o.Value, o.ValueJSON = nil, nil
	if len(w.Value) == 0 {
		return nil
	}
	o.ValueJSON = w.Value
	return json.Unmarshal(w.Value, &o.Value)
}

// Txn is a conditional transaction: it commits only if every object read
// still has the version given (0: it does not exist), and then makes all
// its writes, deletes and root changes at once.
type Txn struct {
	Reads   []Read            `json:"reads,omitempty"`
	Writes  []Write           `json:"writes,omitempty"`
	Deletes []uuid.UUID       `json:"deletes,omitempty"`
	Roots   map[string]string `json:"roots,omitempty"` // name -> object ID; "" deletes the root
}

// Read is an object version a Txn depends on.
type Read struct {
	ID      uuid.UUID `json:"id"`
	Version uint64    `json:"version"`
}

// Write is a value a Txn stores.
type Write struct {
	ID    uuid.UUID       `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Replicas is the answer to a change of a heap's replication factor.
type Replicas struct {
	Heap     string `json:"heap"`
	Replicas int    `json:"replicas"`
}

// Digest is a replica's state fingerprint at an index.
type Digest struct {
	Index  uint64 `json:"index"`
	Digest string `json:"digest"`
}

// Committed is the answer to a write.
type Committed struct {
	ID    uuid.UUID `json:"id,omitzero"`
	Index uint64    `json:"index"`
}
