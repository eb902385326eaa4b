package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// decodeRequest decodes the JSON body of a request (a transaction, a
// grant, a revocation) into the struct v points to, refusing anything the
// sender may have meant otherwise than encoding/json would read it: the
// body must follow ParseValue's rules (UTF-8, no duplicate key, nothing
// after it; values nested at most depth levels below MaxDepth), name no
// unknown field, and name no field twice under keys that differ only in
// case. encoding/json matches keys to fields without regard to case and
// keeps the last, so {"writes": [...], "Writes": []} was a transaction
// that committed nothing and {"Perm": "read", "perm": "admin"} a grant of
// admin.
func decodeRequest(body []byte, depth int, v any) error {
	tree, err := parseJSON(body, depth)
	if err != nil {
		return err
	}
	if err := checkFields(tree, reflect.TypeOf(v)); err != nil {
		return &badRequest{err}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return &badRequest{err}
	}
	return nil
}

// checkFields refuses an object of the parsed JSON v that names one field
// of the struct type t twice, in keys that differ only in case, in v or
// in the structs and slices of structs it holds. What is not a struct
// (a value, a map, an ID) is not looked into: its keys are the sender's.
func checkFields(v any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if a, ok := v.([]any); ok && t.Elem().Kind() != reflect.Uint8 {
			for _, e := range a {
				if err := checkFields(e, t.Elem()); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil // encoding/json says what is wrong with it
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		var keys []string
		for k, e := range m {
			if strings.EqualFold(k, name) {
				keys = append(keys, k)
				if err := checkFields(e, f.Type); err != nil {
					return err
				}
			}
		}
		if len(keys) > 1 {
			slices.Sort(keys)
			return fmt.Errorf("the keys %q all name the field %q (field names are matched without regard to case): send it once", keys, name)
		}
	}
	return nil
}
