package chatfly

// WrapStorage returns w as a Storage that implements exactly those optional
// interfaces of a Storage ([Scanner], [Batcher], [Toucher],
// [ValueConditioner]) that both w and inner implement.
//
// It is for Storage wrappers (metrics, fault injection, latency): a
// wrapper implements every optional interface by calling the same method
// of the Storage it wraps, and hands out WrapStorage(itself, inner), so
// that whoever discovers capabilities by type assertion (the Hub, the
// conformance suite, another wrapper) sees those of the backend and no
// others. A wrapper that claimed one its backend lacks would break the
// Hub: a [ValueConditioner] in particular is a promise about the
// backend's conditions that no wrapper can keep by itself.
//
// The methods of the result are w's; other methods of w (Close, say) are
// not reachable through it.
func WrapStorage(w, inner Storage) Storage {
	sc, _ := w.(Scanner)
	b, _ := w.(Batcher)
	t, _ := w.(Toucher)
	v, _ := w.(ValueConditioner)
	var caps int
	if _, ok := inner.(Scanner); ok && sc != nil {
		caps |= 1
	}
	if _, ok := inner.(Batcher); ok && b != nil {
		caps |= 2
	}
	if _, ok := inner.(Toucher); ok && t != nil {
		caps |= 4
	}
	if _, ok := inner.(ValueConditioner); ok && v != nil {
		caps |= 8
	}
	return withCaps(w, caps, sc, b, t, v)
}

// withCaps returns w with the optional interfaces in caps (bits: 1
// Scanner, 2 Batcher, 4 Toucher, 8 ValueConditioner), implemented by sc,
// b, t and v. There is one struct type per set of capabilities: a type's
// method set is fixed, so nothing smaller can be exact.
func withCaps(w Storage, caps int, sc Scanner, b Batcher, t Toucher, v ValueConditioner) Storage {
	switch caps {
	case 1:
		return struct {
			Storage
			Scanner
		}{w, sc}
	case 2:
		return struct {
			Storage
			Batcher
		}{w, b}
	case 3:
		return struct {
			Storage
			Scanner
			Batcher
		}{w, sc, b}
	case 4:
		return struct {
			Storage
			Toucher
		}{w, t}
	case 5:
		return struct {
			Storage
			Scanner
			Toucher
		}{w, sc, t}
	case 6:
		return struct {
			Storage
			Batcher
			Toucher
		}{w, b, t}
	case 7:
		return struct {
			Storage
			Scanner
			Batcher
			Toucher
		}{w, sc, b, t}
	case 8:
		return struct {
			Storage
			ValueConditioner
		}{w, v}
	case 9:
		return struct {
			Storage
			Scanner
			ValueConditioner
		}{w, sc, v}
	case 10:
		return struct {
			Storage
			Batcher
			ValueConditioner
		}{w, b, v}
	case 11:
		return struct {
			Storage
			Scanner
			Batcher
			ValueConditioner
		}{w, sc, b, v}
	case 12:
		return struct {
			Storage
			Toucher
			ValueConditioner
		}{w, t, v}
	case 13:
		return struct {
			Storage
			Scanner
			Toucher
			ValueConditioner
		}{w, sc, t, v}
	case 14:
		return struct {
			Storage
			Batcher
			Toucher
			ValueConditioner
		}{w, b, t, v}
	case 15:
		return struct {
			Storage
			Scanner
			Batcher
			Toucher
			ValueConditioner
		}{w, sc, b, t, v}
	}
	return struct{ Storage }{w}
}
