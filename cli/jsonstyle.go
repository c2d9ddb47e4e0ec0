package cli

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
)

// snakeJSON gives every field name a command prints as JSON one style, snake_case: the style of the
// release tables' columns, of the configuration and of the API's figures. The records the platform stores
// (states, sidecars, manifests) keep their own names, so a command renames at the door: struct fields get
// the snake_case of their JSON name (rawSha256 → raw_sha256, FirstURL → first_url); map keys are data
// (dataset ids, paths, versions, HTTP headers) and stay as they are; a value that marshals itself (a time,
// a Data Package path list) is left to do so.
func snakeJSON(v any) any { return snakeValue(reflect.ValueOf(v)) }

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func snakeValue(rv reflect.Value) any {
	if !rv.IsValid() {
		return nil
	}
	t := rv.Type()
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
			return nil
		}
		return rv.Interface()
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return snakeValue(rv.Elem())
	case reflect.Struct:
		var obj object
		fields(rv, &obj)
		return obj
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			key, err := json.Marshal(it.Key().Interface())
			k := strings.Trim(string(key), `"`)
			if err != nil || it.Key().Kind() == reflect.String {
				k = it.Key().String()
			}
			out[k] = snakeValue(it.Value())
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && (rv.IsNil() || t.Elem().Kind() == reflect.Uint8) {
			if rv.IsNil() {
				return nil
			}
			return rv.Interface() // bytes: base64, as encoding/json writes them
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = snakeValue(rv.Index(i))
		}
		return out
	default:
		return rv.Interface()
	}
}

// fields appends a struct's fields as encoding/json would name and omit them, renamed, embedded structs
// flattened.
func fields(rv reflect.Value, obj *object) {
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		v := rv.Field(i)
		if f.Anonymous && name == "" {
			for v.Kind() == reflect.Pointer {
				if v.IsNil() {
					break
				}
				v = v.Elem()
			}
			if v.Kind() == reflect.Struct && !v.Type().Implements(marshalerType) {
				fields(v, obj)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if strings.Contains(","+opts+",", ",omitempty,") && empty(v) {
			continue
		}
		if strings.Contains(","+opts+",", ",omitzero,") && v.IsZero() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		obj.keys = append(obj.keys, snake(name))
		obj.values = append(obj.values, snakeValue(v))
	}
}

func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// snake turns a field name into snake_case: RawSHA256 → raw_sha256, keyId → key_id, FirstURL → first_url;
// a name with no capital is kept.
func snake(name string) string {
	if special, ok := snakeNames[name]; ok {
		return special
	}
	if strings.IndexFunc(name, unicode.IsUpper) < 0 {
		return name
	}
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && rs[i-1] != '_' && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				(unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// snakeNames are the names the rule would split wrongly.
var snakeNames = map[string]string{"ETag": "etag", "etag": "etag", "IDs": "ids"}

// object is a JSON object that keeps its fields in the struct's order.
type object struct {
	keys   []string
	values []any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		val, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
